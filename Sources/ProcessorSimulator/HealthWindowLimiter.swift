import NIOCore

/// The `GET /payments/service-health` rate limit, shared by every caller: one answered call per
/// window; while a window is closed, up to `maxHeld` callers are held and all answered when the
/// next window opens (which that opening uses up); anyone beyond that is refused.
/// Invariant: `held` is non-empty only while a window opening is scheduled at `windowEnd`.
struct HealthWindowLimiter<Waiter> {
    enum Decision {
        /// Answer now; a new window started.
        case answer
        /// Held. When `scheduleOpening` is set the caller must call `openWindow()` at that instant.
        case held(scheduleOpening: NIODeadline?)
        /// Answer 429.
        case rejected
    }

    let window: TimeAmount
    let maxHeld: Int
    /// When the current window closes; nil before the first call.
    private(set) var windowEnd: NIODeadline?
    private var held: [Waiter] = []

    init(window: TimeAmount, maxHeld: Int = 2) {
        self.window = window
        self.maxHeld = maxHeld
    }

    var heldCount: Int { held.count }

    mutating func arrive(at now: NIODeadline, _ makeWaiter: () -> Waiter) -> Decision {
        if held.isEmpty, windowEnd.map({ now >= $0 }) ?? true {
            windowEnd = now + window
            return .answer
        }
        guard held.count < maxHeld else { return .rejected }
        held.append(makeWaiter())
        return .held(scheduleOpening: held.count == 1 ? windowEnd : nil)
    }

    /// The scheduled opening: starts the window that begins at the old `windowEnd` and hands
    /// back every held caller, to be answered now.
    mutating func openWindow() -> [Waiter] {
        if let end = windowEnd { windowEnd = end + window }
        let waiters = held
        held.removeAll()
        return waiters
    }

    /// Empties the held list (on close) without touching the windows.
    mutating func removeAllHeld() -> [Waiter] {
        let waiters = held
        held.removeAll()
        return waiters
    }
}
