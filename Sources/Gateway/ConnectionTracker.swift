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

    private let maxConnections: Int
    private var children = ConnectionRoster()
    /// Idle connections closed to make room, and new ones refused at the limit.
    private(set) var evicted = 0
    private(set) var refused = 0

    init(maxConnections: Int) { self.maxConnections = maxConnections }

    var openConnections: Int { children.count }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        if children.count >= maxConnections {
            guard let idle = children.takeOldestIdle() else {
                refused += 1
                child.close(promise: nil)
                return
            }
            evicted += 1
            idle.close(promise: nil)
        }
        children.insert(child)
        let tracker = NIOLoopBound(self, eventLoop: context.eventLoop)
        child.closeFuture.whenComplete { _ in
            tracker.eventLoop.execute { tracker.value.children.remove(child) }
        }
        context.fireChannelRead(data)
    }

    /// The connection's handler reports how to see whether it is idle.
    func attach(_ child: any Channel, activity: ConnectionActivity) {
        children.attach(activity, to: child)
    }

    func closeAll() {
        for channel in children.channels { channel.close(promise: nil) }
    }
}
