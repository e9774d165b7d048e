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

/// The upstreams, their counters and which are in service. An upstream that fails is ejected for
/// `ejectDuration`; after that it is half-open: the next request tries to connect to it, and as
/// a refused connection is retried on another upstream, that probe costs the client nothing.
public final class UpstreamTable: Sendable {
    let upstreams: [UpstreamState]
    private let ejectNanoseconds: UInt64
    private let ejectAfterFailures: Int

    init(paths: [String], ejectDuration: Duration, ejectAfterFailures: Int) {
        precondition(!paths.isEmpty && paths.count <= 64, "between 1 and 64 upstreams")
        upstreams = paths.map(UpstreamState.init(path:))
        let (seconds, attoseconds) = ejectDuration.components
        ejectNanoseconds = UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
        self.ejectAfterFailures = max(1, ejectAfterFailures)
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

    /// A request failed at `index`. A refused connection ejects at once (nothing listens there);
    /// other failures eject after `ejectAfterFailures` in a row.
    func requestFailed(_ index: Int, connectionRefused: Bool, now: UInt64) {
        let upstream = upstreams[index]
        upstream.inFlight.wrappingDecrement(ordering: .relaxed)
        upstream.errors.wrappingIncrement(ordering: .relaxed)
        let failures = upstream.consecutiveFailures.wrappingIncrementThenLoad(ordering: .relaxed)
        guard connectionRefused || failures >= ejectAfterFailures else { return }
        let until = now + ejectNanoseconds
        // Several loops may see the same failure; count one ejection per period out.
        let previous = upstream.ejectedUntil.load(ordering: .relaxed)
        if previous <= now,
            upstream.ejectedUntil.compareExchange(expected: previous, desired: until, ordering: .relaxed)
                .exchanged
        {
            upstream.ejections.wrappingIncrement(ordering: .relaxed)
        }
    }

    /// The counters as one JSON object, for people and scripts.
    public func snapshotJSON(now: UInt64) -> String {
        var text = "{\"upstreams\":["
        for (index, upstream) in upstreams.enumerated() {
            if index > 0 { text += "," }
            text += "{\"path\":\"\(upstream.path.jsonEscaped)\""
            text += ",\"requests\":\(upstream.requests.load(ordering: .relaxed))"
            text += ",\"errors\":\(upstream.errors.load(ordering: .relaxed))"
            text += ",\"inFlight\":\(upstream.inFlight.load(ordering: .relaxed))"
            text += ",\"ejections\":\(upstream.ejections.load(ordering: .relaxed))"
            text += ",\"inService\":\(upstream.ejectedUntil.load(ordering: .relaxed) <= now)}"
        }
        return text + "]}"
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

extension String {
    fileprivate var jsonEscaped: String {
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20:
                out += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
