import NIOConcurrencyHelpers

/// Where payments wait while no processor will take them (both failing). They sleep here
/// instead of each polling the router, and are all woken when a choice may succeed again, so an
/// outage with hundreds of payments held costs nothing until it ends.
final class HoldQueue: Sendable {
    private let waiters = NIOLockedValueBox([CheckedContinuation<Void, Never>]())

    var count: Int { waiters.withLockedValue { $0.count } }

    func wait() async {
        await withCheckedContinuation { continuation in
            waiters.withLockedValue { $0.append(continuation) }
        }
    }

    func wakeAll() {
        let woken = waiters.withLockedValue { list -> [CheckedContinuation<Void, Never>] in
            defer { list.removeAll() }
            return list
        }
        for continuation in woken { continuation.resume() }
    }
}
