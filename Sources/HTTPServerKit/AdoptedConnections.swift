import NIOConcurrencyHelpers
import NIOCore
import NIOExtras

/// The connections a server was handed (rather than accepted itself): it keeps their count under
/// a limit and reaches them at a graceful stop (NIOExtras' quiescing helper only knows the
/// children of its listener). At the limit a new connection takes the place of the oldest idle
/// one, so that idle sockets (an attack, or clients that keep connections they never use) cannot
/// lock out new clients; when none is idle the new one is refused.
final class AdoptedConnections: Sendable {
    private let maxConnections: Int
    private let state = NIOLockedValueBox(State())

    private struct State {
        var open: [ObjectIdentifier: Entry] = [:]
        /// Adoption order, oldest first; closed connections are dropped lazily.
        var order = CircularBuffer<ObjectIdentifier>()
        var evicted = 0
        var refused = 0
    }

    private struct Entry {
        let channel: any Channel
        let activity: ConnectionActivity
    }

    init(maxConnections: Int) { self.maxConnections = maxConnections }

    var count: Int { state.withLockedValue { $0.open.count } }
    var shed: (evicted: Int, refused: Int) { state.withLockedValue { ($0.evicted, $0.refused) } }

    /// Whether one more connection may be adopted: below the limit, or once the oldest idle one
    /// (among the first few, so that the cost stays small however many are open) was closed.
    func makeRoom() -> Bool {
        let victim = state.withLockedValue { state -> (any Channel)?? in
            if state.open.count < maxConnections { return .some(nil) }
            var looked = 0
            while looked < 64, let id = state.order.popFirst() {
                guard let entry = state.open[id] else { continue }
                looked += 1
                if entry.activity.isIdle {
                    state.open[id] = nil
                    state.evicted += 1
                    return .some(entry.channel)
                }
                state.order.append(id)
            }
            state.refused += 1
            return .none
        }
        guard let victim else { return false }
        victim?.close(promise: nil)
        return true
    }

    /// Tracks `channel` until it closes.
    func add(_ channel: any Channel, activity: ConnectionActivity) {
        state.withLockedValue { state in
            let id = ObjectIdentifier(channel)
            state.open[id] = Entry(channel: channel, activity: activity)
            state.order.append(id)
            if state.order.count > 2 * state.open.count + 64 {
                state.order = CircularBuffer(state.order.filter { state.open[$0] != nil })
            }
        }
    }

    /// Forgets `channel`; returns how many are still open.
    func remove(_ channel: any Channel) -> Int {
        state.withLockedValue { state in
            let id = ObjectIdentifier(channel)
            if state.open[id]?.channel === channel { state.open[id] = nil }
            return state.open.count
        }
    }

    /// Asks every connection to close after its request in progress (idle ones close at once),
    /// waits up to `grace` for them, then closes what is left.
    func drain(grace: TimeAmount) async {
        let open = state.withLockedValue { $0.open.values.map(\.channel) }
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        let deadline = NIODeadline.now() + grace
        for channel in open {
            let left = deadline - NIODeadline.now()
            guard left > .zero else { break }
            let timer = channel.eventLoop.scheduleTask(in: left) { channel.close(promise: nil) }
            try? await channel.closeFuture.get()
            timer.cancel()
        }
        for channel in state.withLockedValue({ $0.open.values.map(\.channel) }) { channel.close(promise: nil) }
    }
}

/// Closes a connection that has read nothing for the `IdleStateHandler`'s read timeout: a client
/// connection handed to the server has no gateway in front of it to bound its idle time.
final class IdleConnectionCloser: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
