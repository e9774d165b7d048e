import Atomics

/// Counters and health of one upstream, shared by all event loops. Counts are requests, not
/// connections; `ejectedUntil` is in `NIODeadline.uptimeNanoseconds`.
final class UpstreamState: Sendable {
    let path: String
    /// Requests sent (or attempted) to this upstream.
    let requests = ManagedAtomic<Int>(0)
    /// Requests that failed here: refused connections, no or bad answers, timeouts.
    let errors = ManagedAtomic<Int>(0)
    /// Requests sent and not yet answered.
    let inFlight = ManagedAtomic<Int>(0)
    /// Times the upstream was taken out of service.
    let ejections = ManagedAtomic<Int>(0)
    let consecutiveFailures = ManagedAtomic<Int>(0)
    let ejectedUntil = ManagedAtomic<UInt64>(0)

    init(path: String) { self.path = path }
}
