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
        var roster = ConnectionRoster()
        var evicted = 0
        var refused = 0
    }

    init(maxConnections: Int) { self.maxConnections = maxConnections }

    var count: Int { state.withLockedValue { $0.roster.count } }
    var shed: (evicted: Int, refused: Int) { state.withLockedValue { ($0.evicted, $0.refused) } }

    /// Whether one more connection may be adopted: below the limit, or once the oldest idle one
    /// was closed to make room.
    func makeRoom() -> Bool {
        let outcome = state.withLockedValue { state -> (room: Bool, victim: (any Channel)?) in
            guard state.roster.count >= maxConnections else { return (true, nil) }
            guard let idle = state.roster.takeOldestIdle() else {
                state.refused += 1
                return (false, nil)
            }
            state.evicted += 1
            return (true, idle)
        }
        outcome.victim?.close(promise: nil)
        return outcome.room
    }

    /// Tracks `channel` until it closes.
    func add(_ channel: any Channel, activity: ConnectionActivity) {
        state.withLockedValue { $0.roster.insert(channel, activity: activity) }
    }

    /// Forgets `channel`; returns how many are still open.
    func remove(_ channel: any Channel) -> Int {
        state.withLockedValue { state in
            state.roster.remove(channel)
            return state.roster.count
        }
    }

    /// Asks every connection to close after its request in progress (idle ones close at once),
    /// waits up to `grace` for them, then closes what is left.
    func drain(grace: TimeAmount) async {
        let open = state.withLockedValue { $0.roster.channels }
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
        for channel in state.withLockedValue({ $0.roster.channels }) { channel.close(promise: nil) }
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
