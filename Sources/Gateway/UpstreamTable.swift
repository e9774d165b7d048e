import Atomics

/// The upstreams, their counters (`UpstreamState`) and which are in service (`EjectionPolicy`);
/// the admin endpoint's JSON of them is in `UpstreamTable+JSON.swift`.
public final class UpstreamTable: Sendable {
    let upstreams: [UpstreamState]
    private let ejection: EjectionPolicy

    init(paths: [String], ejectDuration: Duration, ejectAfterFailures: Int) {
        precondition(!paths.isEmpty && paths.count <= 64, "between 1 and 64 upstreams")
        upstreams = paths.map(UpstreamState.init(path:))
        ejection = EjectionPolicy(duration: ejectDuration, afterFailures: ejectAfterFailures)
    }

    public var count: Int { upstreams.count }

    /// The upstreams in service at `now` (uptime nanoseconds).
    func candidates(now: UInt64) -> CandidateSet {
        var set = CandidateSet(bits: 0)
        for index in upstreams.indices
        where upstreams[index].ejectedUntil.load(ordering: .relaxed) <= now {
            set.bits |= 1 << UInt64(index)
        }
        return set
    }

    func requestStarted(_ index: Int) {
        upstreams[index].requests.wrappingIncrement(ordering: .relaxed)
        upstreams[index].inFlight.wrappingIncrement(ordering: .relaxed)
    }

    func requestSucceeded(_ index: Int) {
        let upstream = upstreams[index]
        upstream.inFlight.wrappingDecrement(ordering: .relaxed)
        if upstream.consecutiveFailures.load(ordering: .relaxed) != 0 {
            upstream.consecutiveFailures.store(0, ordering: .relaxed)
        }
    }

    /// A request failed at `index`; the ejection policy decides whether it leaves service.
    func requestFailed(_ index: Int, connectionRefused: Bool, now: UInt64) {
        let upstream = upstreams[index]
        upstream.inFlight.wrappingDecrement(ordering: .relaxed)
        upstream.errors.wrappingIncrement(ordering: .relaxed)
        let failures = upstream.consecutiveFailures.wrappingIncrementThenLoad(ordering: .relaxed)
        ejection.failed(upstream, failuresInARow: failures, connectionRefused: connectionRefused, now: now)
    }

    /// Counters of upstream `index`, for tests and the admin endpoint.
    public func counters(_ index: Int) -> (requests: Int, errors: Int, inFlight: Int, ejections: Int) {
        let upstream = upstreams[index]
        return (
            upstream.requests.load(ordering: .relaxed), upstream.errors.load(ordering: .relaxed),
            upstream.inFlight.load(ordering: .relaxed), upstream.ejections.load(ordering: .relaxed)
        )
    }
}

extension UpstreamTable: UpstreamLoadView {
    public func inFlight(_ index: Int) -> Int { upstreams[index].inFlight.load(ordering: .relaxed) }
}
