import NIOCore

/// The `POST /payments` admission state machine: at most `maxInFlight` calls are processed at
/// once, at most `maxQueued` wait (first come, first served) for a slot, the rest are refused.
/// Invariant: `inFlight <= maxInFlight`, `waiting.count <= maxQueued`, and nobody waits while a
/// slot is free. It only decides; the caller resumes the waiters it is handed.
struct ConcurrencyLimiter<Waiter> {
    enum Admission {
        /// A slot is taken: process now and `release()` when done.
        case run
        /// Queued: the waiter will be returned by a later `release()`, which hands it the slot.
        case queued
        /// Over both limits: answer 429.
        case rejected
    }

    let maxInFlight: Int
    let maxQueued: Int
    private(set) var inFlight = 0
    private var waiting = CircularBuffer<Waiter>()

    init(maxInFlight: Int, maxQueued: Int) {
        self.maxInFlight = max(maxInFlight, 0)
        self.maxQueued = max(maxQueued, 0)
    }

    var queued: Int { waiting.count }

    /// `makeWaiter` is called only when the caller has to wait.
    mutating func acquire(_ makeWaiter: () -> Waiter) -> Admission {
        if inFlight < maxInFlight {
            inFlight += 1
            return .run
        }
        if waiting.count < maxQueued {
            waiting.append(makeWaiter())
            return .queued
        }
        return .rejected
    }

    /// Takes a waiter out of the queue (its client went away, so it must never run); the slot
    /// it waited for stays with whoever holds it. Nil when no waiter matches.
    mutating func cancel(where matches: (Waiter) -> Bool) -> Waiter? {
        guard let index = waiting.firstIndex(where: matches) else { return nil }
        return waiting.remove(at: index)
    }

    /// Empties the queue (on close); the slots of the calls already running stay taken.
    mutating func removeAllWaiting() -> [Waiter] {
        let all = Array(waiting)
        waiting.removeAll()
        return all
    }

    /// Gives back a slot; returns the waiter that now owns it, if any, to be resumed.
    mutating func release() -> Waiter? {
        precondition(inFlight > 0, "release without acquire")
        if let next = waiting.popFirst() { return next }
        inFlight -= 1
        return nil
    }
}
