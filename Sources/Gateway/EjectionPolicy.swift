import Atomics

/// When a failing upstream leaves service and for how long. A refused connection ejects at once
/// (nothing listens there); other failures eject after `afterFailures` in a row. Once the period
/// is over the upstream is half-open: the next request tries to connect to it, and as a refused
/// connection is retried on another upstream, that probe costs the client nothing.
struct EjectionPolicy: Sendable {
    let nanoseconds: UInt64
    let afterFailures: Int

    init(duration: Duration, afterFailures: Int) {
        let (seconds, attoseconds) = duration.components
        nanoseconds = UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
        self.afterFailures = max(1, afterFailures)
    }

    /// Takes `upstream` out of service until `now` plus the period if this failure calls for it.
    func failed(_ upstream: UpstreamState, failuresInARow: Int, connectionRefused: Bool, now: UInt64) {
        guard connectionRefused || failuresInARow >= afterFailures else { return }
        let until = now + nanoseconds
        // Several loops may see the same failure; count one ejection per period out.
        let previous = upstream.ejectedUntil.load(ordering: .relaxed)
        if previous <= now,
            upstream.ejectedUntil.compareExchange(expected: previous, desired: until, ordering: .relaxed)
                .exchanged
        {
            upstream.ejections.wrappingIncrement(ordering: .relaxed)
        }
    }
}
