import PaymentCore

/// Thresholds of the routing decision. Nothing here knows the load test's phases: the router
/// reacts only to what it observes.
public struct RoutingPolicy: Sendable, Equatable {
    /// A processor whose expected answer time is at or above this is unusable while the other is
    /// usable: a payment answered that late is booked after the consistency checker looked.
    public var slowMillis: Double = 1_500
    /// When default has this many payments in flight it is not keeping up: the overflow goes to
    /// fallback (when fallback is usable).
    public var maxDefaultInFlight: Int = 450
    /// Calls one processor gets at once (its connections): a payment is claimed, and its
    /// requestedAt stamped, only when it can go out at once rather than wait for a connection.
    public var maxCallsPerProcessor: Int = 64
    /// A processor believed failing gets one real payment this often, to notice its recovery
    /// sooner than the health poll would (a 500 is definite: the payment then goes elsewhere);
    /// a failing default gets one at once, too, when fallback comes back.
    public var probeIntervalMillis: Int64 = 1_000
    /// Weight of the newest sample in the latency average.
    public var latencyWeight: Double = 0.2
    /// A processor whose calls have been out this many times longer than its average answer
    /// time (and at least `stallFloorMillis`) has stalled: it just became slow, and every payment
    /// still sent there would be answered late. Noticed within a fraction of a second instead of
    /// after `slowMillis`.
    public var stallFactor: Double = 4
    public var stallFloorMillis: Double = 400

    public init() {}
}

/// What one worker believes about one processor, from its own calls and the shared health.
public struct ProcessorView: Sendable, Equatable {
    /// Whether the latest evidence (a call's outcome or a health poll, by time) says failing.
    public var failing = false
    public var evidenceAt: Int64 = 0
    /// Average answer time of successful calls, ms; reset by a newer health poll.
    public var latencyMillis: Double = 0
    public var latencySampleAt: Int64 = 0
    /// Calls out (each holds a connection).
    public var inFlight = 0
    /// Of `inFlight`, the calls that started before the processor last came back from failing.
    /// The processor waits out the delay in force when a call arrives and reads its failure mode
    /// only after it, so such a call's answer time describes the outage, not the processor now:
    /// it neither counts as waiting nor as a latency sample.
    public var staleInFlight = 0
    /// Start of the oldest call still out, approximately (the start of the last one answered,
    /// which answers come roughly in order of): how long the processor has kept us waiting.
    public var waitingSince: Int64 = 0
    public var lastProbeAt: Int64 = 0
    /// When the processor last came back from failing (0: never).
    public var recoveredAt: Int64 = 0
    /// The latency average does not yet describe the processor since it came back: the call
    /// that showed the recovery was slow, and it started under the outage's delay. One call
    /// started since then settles it.
    public var latencyUnconfirmed = false

    public init() {}

    /// Calls out that started after the latest recovery: the ones that tell how fast it is now.
    public var freshInFlight: Int { max(0, inFlight - staleInFlight) }

    /// Expected answer time: the average, or longer if calls have been out longer than that.
    public func expectedLatency(now: Int64) -> Double {
        let waiting = freshInFlight > 0 ? Double(now - waitingSince) : 0
        return max(latencyMillis, waiting)
    }

    /// It has just come back, slowly, and no call is out yet to tell whether it still is slow.
    var needsConfirmation: Bool { !failing && latencyUnconfirmed && freshInFlight == 0 }

    /// Back from failing at `at`: every call out began before, under the outage's delay.
    mutating func recovered(at: Int64) {
        failing = false
        evidenceAt = at
        recoveredAt = at
        staleInFlight = inFlight
        waitingSince = at
    }
}

/// How a call to a processor ended, as far as routing cares.
public enum CallOutcome: Sendable, Equatable {
    /// 200, or 422 (already there): the processor has the payment.
    case accepted
    /// 500, 429, refused connection: the processor does not have it.
    case failed
    /// Timeout, reset, anything else: it may or may not have it.
    case unknown
}

/// The routing decision and the evidence behind it. A value type with no clock and no I/O:
/// callers pass `now` (epoch ms), tests drive it directly.
public struct Router: Sendable {
    public var policy: RoutingPolicy
    public private(set) var views: [Processor: ProcessorView] = [.default: .init(), .fallback: .init()]

    public init(policy: RoutingPolicy = RoutingPolicy()) { self.policy = policy }

    public func view(_ p: Processor) -> ProcessorView { views[p]! }

    func usable(_ p: Processor, now: Int64) -> Bool {
        let v = view(p)
        return !v.failing && !v.latencyUnconfirmed && v.expectedLatency(now: now) < policy.slowMillis
            && !stalled(p, now: now)
    }

    func stalled(_ p: Processor, now: Int64) -> Bool {
        let v = view(p)
        guard v.freshInFlight > 0 else { return false }
        return Double(now - v.waitingSince) > max(policy.stallFloorMillis, policy.stallFactor * v.latencyMillis)
    }

    /// Where the next new payment should go, or nil to hold it (both failing with probes spent,
    /// or both too slow).
    public mutating func choose(now: Int64) -> Processor? {
        let d = view(.default)
        let f = view(.fallback)
        let defaultUsable = usable(.default, now: now)
        let fallbackUsable = usable(.fallback, now: now)
        if defaultUsable && (d.inFlight < policy.maxDefaultInFlight || !fallbackUsable) { return .default }
        // Back from an outage, but the call that said so waited out the outage's delay: one
        // payment finds out how fast it is now, rather than every payment going elsewhere (or
        // waiting) until the next health poll.
        if d.needsConfirmation { return .default }
        if fallbackUsable {
            // Default is cheaper: while it fails, one payment now and then checks whether it is
            // back, sooner than the next health poll would tell. Fallback coming back since the
            // last probe is a hint that default may have too (outages are often shared): probed
            // at once, a backlog waiting on both drains to default instead of to the first seen.
            if d.failing && (now - d.lastProbeAt >= policy.probeIntervalMillis || f.recoveredAt > d.lastProbeAt) {
                views[.default]!.lastProbeAt = now
                return .default
            }
            return .fallback
        }
        // Neither is usable. One that is only slow would take the payment, but answer after the
        // checker compared its window: hold, as when both fail; the health polls tell when one
        // is fast again. Failing ones get a probe now and then.
        if f.needsConfirmation { return .fallback }
        if !d.failing || !f.failing { return nil }
        for p in Processor.allCases where now - view(p).lastProbeAt >= policy.probeIntervalMillis {
            views[p]!.lastProbeAt = now
            return p
        }
        return nil
    }

    /// How many new payments `p` should take now: one if it is failing or its speed since it came
    /// back is not known (a probe); no more than it has free connections; default only up to its
    /// in-flight limit while fallback is usable.
    public func room(for p: Processor, now: Int64) -> Int {
        if view(p).failing || view(p).latencyUnconfirmed { return 1 }
        let free = max(0, policy.maxCallsPerProcessor - view(p).inFlight)
        guard p == .default, usable(.fallback, now: now) else { return free }
        return min(free, max(1, policy.maxDefaultInFlight - view(.default).inFlight))
    }

    /// A call to `p` is about to go out.
    public mutating func callStarted(_ p: Processor, now: Int64) {
        if views[p]!.freshInFlight == 0 { views[p]!.waitingSince = now }
        views[p]!.inFlight += 1
    }

    /// A call to `p`, started at `startedAt`, ended at `now` with `outcome`. Its outcome tells how
    /// the processor is at `now`; its answer time, how it was when the call arrived.
    public mutating func callEnded(_ p: Processor, startedAt: Int64, now: Int64, outcome: CallOutcome) {
        var v = views[p]!
        let stale = startedAt < v.recoveredAt
        v.inFlight = max(0, v.inFlight - 1)
        v.staleInFlight = stale ? max(0, v.staleInFlight - 1) : v.staleInFlight
        v.staleInFlight = min(v.staleInFlight, v.inFlight)
        if !stale { v.waitingSince = max(v.waitingSince, startedAt) }
        let sample = Double(now - startedAt)
        switch outcome {
        case .accepted:
            if now >= v.evidenceAt && v.failing {
                v.recovered(at: now)
                // This call's answer time is the outage's delay: trusted when it is short anyway,
                // confirmed by one more call when it is not.
                v.latencyMillis = sample
                v.latencySampleAt = now
                v.latencyUnconfirmed = sample >= policy.slowMillis
                break
            }
            if now >= v.evidenceAt { v.evidenceAt = now }
            guard !stale else { break }
            v.latencyMillis =
                v.latencySampleAt == 0 || v.latencyUnconfirmed
                ? sample : v.latencyMillis + policy.latencyWeight * (sample - v.latencyMillis)
            v.latencySampleAt = now
            v.latencyUnconfirmed = false
        case .failed:
            if now >= v.evidenceAt {
                v.failing = true
                v.evidenceAt = now
            }
        case .unknown:
            guard !stale else { break }
            // A timeout says the processor is at least this slow.
            v.latencyMillis = max(v.latencyMillis, sample)
            v.latencySampleAt = now
            v.latencyUnconfirmed = false
        }
        views[p] = v
    }

    /// What the health leader saw of `p` (read from the store's shared view).
    public mutating func healthPolled(_ p: Processor, _ health: ProcessorHealth) {
        healthPolled(p, failing: health.failing, minResponseTime: health.minResponseTime, polledAt: health.polledAt)
    }

    /// A health poll (shared by the leader) said this at `polledAt`.
    public mutating func healthPolled(_ p: Processor, failing: Bool, minResponseTime: Int, polledAt: Int64) {
        var v = views[p]!
        if polledAt > v.evidenceAt {
            if v.failing && !failing {
                v.recovered(at: polledAt)
            } else {
                v.failing = failing
                v.evidenceAt = polledAt
            }
        }
        if polledAt > v.latencySampleAt {
            v.latencyMillis = Double(minResponseTime)
            v.latencySampleAt = polledAt
            v.latencyUnconfirmed = false
        }
        views[p] = v
    }
}
