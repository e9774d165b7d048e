import NIOConcurrencyHelpers

/// Counts the payments a worker holds and lets its claim loop wait for a free slot.
/// Only the claim loop takes slots; any task gives them back.
final class CapacityGate: Sendable {
    private struct State {
        var held = 0
        var waiter: CheckedContinuation<Void, Never>?
    }

    let limit: Int
    private let state = NIOLockedValueBox(State())

    init(limit: Int) { self.limit = max(1, limit) }

    var held: Int { state.withLockedValue { $0.held } }

    /// Waits until at least one slot is free and returns how many are.
    func waitForFree() async -> Int {
        while true {
            let free = state.withLockedValue { limit - $0.held }
            if free > 0 { return free }
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLockedValue { s -> Bool in
                    if s.held < limit { return true }
                    s.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    func take(_ n: Int) { state.withLockedValue { $0.held += n } }

    func give() {
        let waiter = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            s.held -= 1
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Wakes a waiting claim loop even with no free slot (used at shutdown).
    func wake() {
        let waiter = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }
}
