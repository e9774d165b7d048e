import HTTPServerKit
import NIOCore

/// Sits in the listening channel's pipeline and sees every accepted connection: it enforces the
/// connection limit, and closes what is still open when a graceful shutdown runs out of time
/// (NIOExtras' `ServerQuiescingHelper` asks the connections to finish first). At the limit, a new connection replaces the oldest idle one, so that idle sockets (an attack,
/// or clients that keep connections they never use) cannot lock out new clients; when every
/// connection has a request in progress the new one is closed at once, before any byte is read.
/// Only touched on the listening channel's event loop.
final class ConnectionTracker: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private struct Entry {
        let channel: any Channel
        /// Set once the connection's handler is in place; until then it counts as busy.
        var activity: ConnectionActivity?
    }

    private let maxConnections: Int
    private var children: [ObjectIdentifier: Entry] = [:]
    /// Connections in accept order, oldest first, with closed ones removed lazily.
    private var order = CircularBuffer<ObjectIdentifier>()
    /// Idle connections closed to make room, and new ones refused at the limit.
    private(set) var evicted = 0
    private(set) var refused = 0

    init(maxConnections: Int) { self.maxConnections = maxConnections }

    var openConnections: Int { children.count }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        guard children.count < maxConnections || makeRoom() else {
            refused += 1
            child.close(promise: nil)
            return
        }
        let id = ObjectIdentifier(child)
        children[id] = Entry(channel: child, activity: nil)
        order.append(id)
        if order.count > 2 * children.count + 64 {
            order = CircularBuffer(order.filter { children[$0] != nil })
        }
        let tracker = NIOLoopBound(self, eventLoop: context.eventLoop)
        child.closeFuture.whenComplete { _ in
            tracker.eventLoop.execute { tracker.value.removed(child) }
        }
        context.fireChannelRead(data)
    }

    /// The connection's handler reports how to see whether it is idle.
    func attach(_ child: any Channel, activity: ConnectionActivity) {
        let id = ObjectIdentifier(child)
        guard let entry = children[id], entry.channel === child else { return }
        children[id]!.activity = activity
    }

    /// Closes the oldest idle connection among the first few in accept order (busy ones go to the
    /// back), so that the cost per accept stays small however many connections are open.
    private func makeRoom() -> Bool {
        var looked = 0
        while looked < 64, let id = order.popFirst() {
            guard let entry = children[id] else { continue }
            looked += 1
            if entry.activity?.isIdle == true {
                children[id] = nil
                evicted += 1
                entry.channel.close(promise: nil)
                return true
            }
            order.append(id)
        }
        return false
    }

    private func removed(_ child: any Channel) {
        let id = ObjectIdentifier(child)
        if let entry = children[id], entry.channel === child {
            children[id] = nil
        }
    }

    func closeAll() {
        for entry in children.values { entry.channel.close(promise: nil) }
    }
}
