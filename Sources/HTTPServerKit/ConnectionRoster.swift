import NIOCore

/// Open connections in the order they came, for a connection limit that makes room by closing
/// the oldest idle one, so that idle sockets (an attack, or clients that keep connections they
/// never use) cannot lock out new clients. Not synchronised: its owner confines it (to an event
/// loop, or behind a lock). The gateway's proxy listener and a server's handed-over connections
/// both keep one.
public struct ConnectionRoster: Sendable {
    private struct Entry: Sendable {
        let channel: any Channel
        /// Until it is known, the connection counts as busy.
        var activity: ConnectionActivity?
    }

    private var open: [ObjectIdentifier: Entry] = [:]
    /// Arrival order, oldest first; closed connections are dropped lazily.
    private var order = CircularBuffer<ObjectIdentifier>()

    public init() {}

    public var count: Int { open.count }
    public var channels: [any Channel] { open.values.map(\.channel) }

    public mutating func insert(_ channel: any Channel, activity: ConnectionActivity? = nil) {
        let id = ObjectIdentifier(channel)
        open[id] = Entry(channel: channel, activity: activity)
        order.append(id)
        if order.count > 2 * open.count + 64 {
            order = CircularBuffer(order.filter { open[$0] != nil })
        }
    }

    /// How to see whether `channel` is idle, once its handler is in place.
    public mutating func attach(_ activity: ConnectionActivity, to channel: any Channel) {
        let id = ObjectIdentifier(channel)
        guard open[id]?.channel === channel else { return }
        open[id]!.activity = activity
    }

    public mutating func remove(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        if open[id]?.channel === channel { open[id] = nil }
    }

    /// Takes the oldest idle connection out of the roster (the caller closes it), looking at the
    /// first few in arrival order only (busy ones go to the back), so that the cost per new
    /// connection stays small however many are open; nil if none of them is idle.
    public mutating func takeOldestIdle() -> (any Channel)? {
        var looked = 0
        while looked < 64, let id = order.popFirst() {
            guard let entry = open[id] else { continue }
            looked += 1
            if entry.activity?.isIdle == true {
                open[id] = nil
                return entry.channel
            }
            order.append(id)
        }
        return nil
    }
}
