import NIOCore

/// The `GET /payments/service-health` rate limit as ASP.NET Core runs it for the real processor:
/// `AddFixedWindowLimiter` with 1 permit per window, a queue of 2, oldest first, inside the
/// rate-limiting middleware's partitioned limiter. What that implies, and what this models:
/// - the window's limiter is created by the first call (which it answers) and its windows then
///   follow a fixed clock: later calls never move them;
/// - windows are replenished by a heartbeat every 100 ms (on a grid fixed at `origin`), at the
///   first beat at least one window after the previous replenishment;
/// - a replenishment hands the permit to the oldest queued caller: one queued caller per window,
///   so the second one waits a further full window;
/// - a queued caller that goes away frees its queue place at once and uses no permit;
/// - beyond the queue a caller is refused (429);
/// - a limiter that stayed full and unused for more than 10 s is discarded at a beat, and the
///   next call creates a new one (a new clock).
/// It only decides; the caller resumes the waiters it is handed and arms a timer at `nextWakeup`.
/// Invariant: a queued caller exists only while the permit is used up.
struct FixedWindowLimiter<Waiter> {
    enum Decision: Equatable {
        case granted
        case queued
        case rejected
    }

    let window: Int64
    let queueLimit: Int
    let heartbeat: Int64
    let idleLimit: Int64
    /// The heartbeat grid's origin (the middleware's start).
    let origin: Int64

    private struct Limiter {
        var permits = 1
        var lastReplenishment: Int64
        /// Set while the permit has been available since then with nobody queued.
        var idleSince: Int64?
        var queue: [(id: UInt64, waiter: Waiter)] = []
    }

    /// Nil before the first call and after an idle limiter was discarded.
    private var limiter: Limiter?

    init(
        window: TimeAmount, origin: NIODeadline, queueLimit: Int = 2,
        heartbeat: TimeAmount = .milliseconds(100), idleLimit: TimeAmount = .seconds(10)
    ) {
        self.window = max(window.nanoseconds, 1)
        self.origin = Int64(origin.uptimeNanoseconds)
        self.queueLimit = queueLimit
        self.heartbeat = max(heartbeat.nanoseconds, 1)
        self.idleLimit = idleLimit.nanoseconds
    }

    var queuedCount: Int { limiter?.queue.count ?? 0 }
    var exists: Bool { limiter != nil }

    /// Runs every heartbeat up to `now`; returns the queued callers that got the permit, oldest
    /// first. Call it before `arrive` and when the timer set at `nextWakeup` fires.
    mutating func advance(to now: NIODeadline) -> [Waiter] {
        let now = Int64(now.uptimeNanoseconds)
        var granted: [Waiter] = []
        while var state = limiter {
            let replenishAt = beat(atOrAfter: state.lastReplenishment + window)
            // At one beat the idle check comes first: a discarded limiter is not replenished.
            if let idleSince = state.idleSince {
                let evictAt = beat(after: idleSince + idleLimit)
                if evictAt <= replenishAt, evictAt <= now {
                    limiter = nil
                    return granted
                }
            }
            guard replenishAt <= now else { break }
            state.lastReplenishment = replenishAt
            if state.permits < 1 {
                state.permits = 1
                if !state.queue.isEmpty {
                    granted.append(state.queue.removeFirst().waiter)
                    state.permits = 0
                } else {
                    state.idleSince = replenishAt
                }
            }
            limiter = state
        }
        return granted
    }

    /// A call at `now` (after `advance(to: now)`). `makeWaiter` is called only when it queues.
    mutating func arrive(id: UInt64, at now: NIODeadline, _ makeWaiter: () -> Waiter) -> Decision {
        var state = limiter ?? Limiter(lastReplenishment: Int64(now.uptimeNanoseconds))
        defer { limiter = state }
        if state.permits >= 1, state.queue.isEmpty {
            state.permits -= 1
            state.idleSince = nil
            return .granted
        }
        guard state.queue.count < queueLimit else { return .rejected }
        state.queue.append((id, makeWaiter()))
        return .queued
    }

    /// A queued caller that went away: it leaves the queue without using a permit.
    mutating func cancel(id: UInt64) -> Waiter? {
        guard var state = limiter, let index = state.queue.firstIndex(where: { $0.id == id }) else {
            return nil
        }
        let waiter = state.queue.remove(at: index).waiter
        limiter = state
        return waiter
    }

    /// When `advance` must run next: the beat that replenishes, while someone is queued.
    var nextWakeup: NIODeadline? {
        guard let state = limiter, !state.queue.isEmpty else { return nil }
        return .uptimeNanoseconds(UInt64(beat(atOrAfter: state.lastReplenishment + window)))
    }

    /// Empties the queue (on close) without touching the windows.
    mutating func removeAllQueued() -> [Waiter] {
        guard var state = limiter else { return [] }
        let waiters = state.queue.map(\.waiter)
        state.queue.removeAll()
        limiter = state
        return waiters
    }

    private func beat(atOrAfter instant: Int64) -> Int64 {
        let offset = instant - origin
        if offset <= 0 { return origin }
        return origin + (offset + heartbeat - 1) / heartbeat * heartbeat
    }

    private func beat(after instant: Int64) -> Int64 {
        beat(atOrAfter: instant + 1)
    }
}
