import PaymentCore
import Testing

@testable import Worker

/// Epoch milliseconds, far from zero like real ones (probe bookkeeping starts at 0).
private let t: Int64 = 1_752_150_896_000

extension Router {
    /// One call to `p` from `start` to `end` with `outcome`.
    mutating func call(_ p: Processor, from start: Int64, to end: Int64, _ outcome: CallOutcome) {
        callStarted(p, now: start)
        callEnded(p, startedAt: start, now: end, outcome: outcome)
    }

    /// The choices for one payment per millisecond over `[start, start + count)`.
    mutating func choices(from start: Int64, count: Int64) -> [Processor?] {
        (0..<count).map { choose(now: start + $0) }
    }
}

extension [Processor?] {
    func count(_ p: Processor?) -> Int { self.filter { $0 == p }.count }
}

@Suite("Router: healthy, failing and recovering")
struct RouterFailureTests {
    @Test("with no evidence at all, payments go to default")
    func freshRouterPrefersDefault() {
        var router = Router()
        #expect(router.choose(now: t) == .default)
        #expect(router.choose(now: t + 1) == .default)
    }

    @Test("default stays chosen while it answers quickly")
    func healthyDefault() {
        var router = Router()
        for k in Int64(0)..<100 {
            router.call(.default, from: t + k * 10, to: t + k * 10 + 5, .accepted)
        }
        #expect(router.choose(now: t + 2_000) == .default)
        #expect(router.view(.default).latencyMillis == 5)
    }

    @Test(
        "after a 500 from default, payments go to fallback but for one probe of default per probe interval"
    )
    func passiveFailure() {
        var router = Router()
        router.call(.default, from: t, to: t + 10, .failed)
        #expect(router.view(.default).failing)
        let first = router.choices(from: t + 11, count: 1_000)
        #expect(first.count(.default) == 1)
        #expect(first.count(.fallback) == 999)
        let second = router.choices(from: t + 1_011, count: 1_000)
        #expect(second.count(.default) == 1)
        #expect(second.count(.fallback) == 999)
    }

    @Test("a health poll saying default is failing sends payments to fallback (but for the probes)")
    func healthFailure() {
        var router = Router()
        router.healthPolled(.default, failing: true, minResponseTime: 0, polledAt: t)
        let choices = router.choices(from: t + 1, count: 2_000)
        #expect(choices.count(.default) == 2)
        #expect(choices.count(.fallback) == 1_998)
    }

    @Test("a newer success brings default back")
    func newerSuccessRecovers() {
        var router = Router()
        router.call(.default, from: t, to: t + 10, .failed)
        router.call(.default, from: t + 20, to: t + 30, .accepted)
        #expect(!router.view(.default).failing)
        #expect(router.choose(now: t + 31) == .default)
    }

    @Test("a newer health poll saying ok brings default back")
    func newerHealthRecovers() {
        var router = Router()
        router.call(.default, from: t, to: t + 10, .failed)
        router.healthPolled(.default, failing: false, minResponseTime: 0, polledAt: t + 11)
        #expect(router.choose(now: t + 12) == .default)
    }

    @Test("an older health poll is ignored: the newer failure still stands")
    func olderHealthIgnored() {
        var router = Router()
        router.call(.default, from: t, to: t + 1_000, .failed)
        router.healthPolled(.default, failing: false, minResponseTime: 0, polledAt: t + 999)
        #expect(router.view(.default).failing)
        #expect(router.choices(from: t + 1_001, count: 1_000).count(.fallback) == 999)
        // A poll from the very same millisecond does not override the call either.
        router.healthPolled(.default, failing: false, minResponseTime: 0, polledAt: t + 1_000)
        #expect(router.view(.default).failing)
    }

    @Test("an older health poll saying failing does not override a newer success")
    func olderFailingHealthIgnored() {
        var router = Router()
        router.call(.default, from: t, to: t + 500, .accepted)
        router.healthPolled(.default, failing: true, minResponseTime: 0, polledAt: t + 100)
        #expect(!router.view(.default).failing)
        #expect(router.choose(now: t + 501) == .default)
    }

    @Test("a call that ended before the latest evidence does not change the failing state")
    func olderCallIgnored() {
        var router = Router()
        router.healthPolled(.default, failing: true, minResponseTime: 0, polledAt: t + 1_000)
        router.callStarted(.default, now: t)
        router.callEnded(.default, startedAt: t, now: t + 500, outcome: .accepted)
        #expect(router.view(.default).failing)
        router.healthPolled(.default, failing: false, minResponseTime: 0, polledAt: t + 2_000)
        router.callStarted(.default, now: t + 1_500)
        router.callEnded(.default, startedAt: t + 1_500, now: t + 1_900, outcome: .failed)
        #expect(!router.view(.default).failing)
    }

    @Test("a timeout (unknown outcome) does not mark a processor failing")
    func unknownIsNotFailing() {
        var router = Router()
        router.call(.default, from: t, to: t + 100, .unknown)
        #expect(!router.view(.default).failing)
        #expect(router.choose(now: t + 101) == .default)
    }

    @Test("one failing and the other slower than the checker's lag: payments wait, as when both fail")
    func failingVersusSlow() {
        var router = Router()
        router.call(.default, from: t, to: t + 5, .failed)
        router.healthPolled(.fallback, failing: false, minResponseTime: 3_000, polledAt: t)
        #expect(router.choose(now: t + 10) == nil)
        var other = Router()
        other.call(.fallback, from: t, to: t + 5, .failed)
        other.healthPolled(.default, failing: false, minResponseTime: 3_000, polledAt: t)
        #expect(other.choose(now: t + 10) == nil)
        // Fast again: taken at once.
        other.healthPolled(.default, failing: false, minResponseTime: 20, polledAt: t + 20)
        #expect(other.choose(now: t + 21) == .default)
    }

    @Test("while fallback is usable a failing default gets exactly one probe per probe interval")
    func probeWhileFallbackUsable() {
        var router = Router()
        router.call(.default, from: t, to: t + 5, .failed)
        for k in Int64(1)...20 {
            #expect(router.choose(now: t + k * 1_000) == .default)
            #expect(router.choose(now: t + k * 1_000) == .fallback)
            #expect(router.choose(now: t + k * 1_000 + 999) == .fallback)
            router.call(.default, from: t + k * 1_000, to: t + k * 1_000 + 1, .failed)
        }
        #expect(router.view(.fallback).lastProbeAt == 0)
    }

    @Test("a slow default that is not failing gets no probe while fallback is usable")
    func noProbeWhenOnlySlow() {
        var router = Router()
        router.healthPolled(.default, failing: false, minResponseTime: 2_000, polledAt: t)
        #expect(router.choices(from: t + 1, count: 3_000).count(.fallback) == 3_000)
    }
}

@Suite("Router: both failing")
struct RouterProbeTests {
    @Test("both failing: nothing is sent except one probe per probe interval per processor")
    func probes() {
        var router = Router()
        router.call(.default, from: t, to: t + 1, .failed)
        router.call(.fallback, from: t, to: t + 1, .failed)
        let start = t + 2
        #expect(router.choose(now: start) == .default)
        #expect(router.choose(now: start) == .fallback)
        #expect(router.choose(now: start) == nil)
        #expect(router.choose(now: start + 500) == nil)
        #expect(router.choose(now: start + 999) == nil)
        #expect(router.choose(now: start + 1_000) == .default)
        #expect(router.choose(now: start + 1_000) == .fallback)
        #expect(router.choose(now: start + 1_000) == nil)
        #expect(router.choose(now: start + 1_999) == nil)
    }

    @Test("the probe interval follows the policy")
    func probeInterval() {
        var policy = RoutingPolicy()
        policy.probeIntervalMillis = 250
        var router = Router(policy: policy)
        router.healthPolled(.default, failing: true, minResponseTime: 0, polledAt: t)
        router.healthPolled(.fallback, failing: true, minResponseTime: 0, polledAt: t)
        var probes = 0
        for ms in t..<(t + 1_000) where router.choose(now: ms) != nil { probes += 1 }
        #expect(probes == 8)
    }

    @Test("a successful probe ends the hold: that processor is chosen again")
    func probeRecovers() {
        var router = Router()
        router.call(.default, from: t, to: t + 1, .failed)
        router.call(.fallback, from: t, to: t + 1, .failed)
        #expect(router.choose(now: t + 10) == .default)
        router.call(.default, from: t + 10, to: t + 20, .accepted)
        #expect(router.choose(now: t + 21) == .default)
        #expect(router.choose(now: t + 22) == .default)
    }
}

@Suite("Router: latency and overflow")
struct RouterLatencyTests {
    @Test("a default whose average answer time reaches slowMillis loses to a healthy fallback")
    func slowAverage() {
        var router = Router()
        router.call(.default, from: t, to: t + 1_499, .accepted)
        #expect(router.choose(now: t + 1_500) == .default)
        router.call(.default, from: t + 1_500, to: t + 1_500 + 1_600, .accepted)
        // 1499 + 0.2 * (1600 - 1499) = 1519.2
        #expect(abs(router.view(.default).latencyMillis - 1_519.2) < 0.001)
        #expect(router.choose(now: t + 3_101) == .fallback)
    }

    @Test("the latency average weighs the newest sample by latencyWeight")
    func average() {
        var router = Router()
        router.call(.default, from: t, to: t + 100, .accepted)
        #expect(router.view(.default).latencyMillis == 100)
        router.call(.default, from: t + 200, to: t + 800, .accepted)
        #expect(abs(router.view(.default).latencyMillis - 200) < 0.001)
        router.call(.default, from: t + 1_000, to: t + 1_000, .accepted)
        #expect(abs(router.view(.default).latencyMillis - 160) < 0.001)
    }

    @Test("a call out longer than slowMillis makes a steadily slow default unusable before it answers")
    func slowWhileWaiting() {
        var router = Router()
        // Default answers in about 1 s: a stall would take 4 s to show, slowMillis comes first.
        router.call(.default, from: t - 2_000, to: t - 1_000, .accepted)
        router.callStarted(.default, now: t)
        #expect(router.view(.default).expectedLatency(now: t + 1_499) == 1_499)
        #expect(router.choose(now: t + 1_499) == .default)
        #expect(router.choose(now: t + 1_500) == .fallback)
        // A later call answered quickly moves the wait's start to that call's start.
        router.callStarted(.default, now: t + 1_400)
        router.callEnded(.default, startedAt: t + 1_400, now: t + 1_600, outcome: .accepted)
        #expect(router.view(.default).inFlight == 1)
        #expect(router.view(.default).expectedLatency(now: t + 1_601) == 840)
        #expect(router.choose(now: t + 1_601) == .default)
        // Once nothing is out, only the average counts.
        router.callEnded(.default, startedAt: t, now: t + 1_700, outcome: .accepted)
        #expect(router.view(.default).inFlight == 0)
        #expect(abs(router.view(.default).expectedLatency(now: t + 9_000) - 1_012) < 0.001)
    }

    @Test(
        "a fast processor whose call is out stallFactor times its average (and at least stallFloorMillis) has stalled",
        arguments: [(Int64(50), Int64(400)), (200, 800), (0, 400), (300, 1_200)])
    func stall(average: Int64, threshold: Int64) {
        var router = Router()
        if average > 0 { router.call(.default, from: t - 5_000, to: t - 5_000 + average, .accepted) }
        router.callStarted(.default, now: t)
        #expect(router.choose(now: t + threshold) == .default)
        #expect(router.choose(now: t + threshold + 1) == .fallback)
        // It answers: the stall is over.
        router.callEnded(.default, startedAt: t, now: t + threshold + 2, outcome: .accepted)
        #expect(router.choose(now: t + threshold + 3) == .default)
    }

    @Test("a stalled fallback is avoided too, while default is usable")
    func stalledFallback() {
        var policy = RoutingPolicy()
        policy.maxDefaultInFlight = 1
        var router = Router(policy: policy)
        router.callStarted(.fallback, now: t)
        router.callStarted(.default, now: t + 300)
        // Default is at its in-flight limit: the overflow goes to fallback while it is usable...
        #expect(router.choose(now: t + 400) == .fallback)
        // ...and stays on default once fallback's call has stalled.
        #expect(router.choose(now: t + 401) == .default)
    }

    @Test("a timeout counts as at least that slow")
    func timeoutIsSlow() {
        var router = Router()
        router.call(.default, from: t, to: t + 10_000, .unknown)
        #expect(router.view(.default).latencyMillis == 10_000)
        #expect(router.choose(now: t + 10_001) == .fallback)
    }

    @Test("both slower than the checker's lag: payments wait until one is fast again")
    func bothSlow() {
        var router = Router()
        router.healthPolled(.default, failing: false, minResponseTime: 3_000, polledAt: t)
        router.healthPolled(.fallback, failing: false, minResponseTime: 2_000, polledAt: t)
        #expect(router.choose(now: t + 1) == nil)
        #expect(router.choose(now: t + 1_500) == nil)
        router.healthPolled(.fallback, failing: false, minResponseTime: 1_000, polledAt: t + 10)
        #expect(router.choose(now: t + 11) == .fallback)
        router.healthPolled(.default, failing: false, minResponseTime: 100, polledAt: t + 20)
        #expect(router.choose(now: t + 21) == .default)
    }

    @Test("room: no more new payments than a processor has free connections; one for a failing one")
    func room() {
        var router = Router()
        router.policy.maxCallsPerProcessor = 4
        router.policy.maxDefaultInFlight = 3
        #expect(router.room(for: .fallback, now: t) == 4)
        #expect(router.room(for: .default, now: t) == 3)
        for _ in 0..<3 { router.callStarted(.default, now: t) }
        #expect(router.room(for: .default, now: t) == 1)
        router.call(.fallback, from: t, to: t + 5, .failed)
        // Fallback failing: default may use all its connections, and fallback gets a probe.
        #expect(router.room(for: .default, now: t + 6) == 1)
        router.callStarted(.default, now: t + 6)
        #expect(router.room(for: .default, now: t + 6) == 0)
        #expect(router.room(for: .fallback, now: t + 6) == 1)
    }

    @Test("a health poll sets the expected latency from minResponseTime")
    func healthLatency() {
        var router = Router()
        router.healthPolled(.default, failing: false, minResponseTime: 1_500, polledAt: t)
        #expect(router.choose(now: t + 1) == .fallback)
        router.healthPolled(.default, failing: false, minResponseTime: 100, polledAt: t + 5_000)
        #expect(router.choose(now: t + 5_001) == .default)
    }

    @Test("a health poll resets the latency only when newer than the last sample")
    func healthResetOnlyWhenNewer() {
        var router = Router()
        router.call(.default, from: t, to: t + 2_000, .accepted)
        router.healthPolled(.default, failing: false, minResponseTime: 0, polledAt: t + 1_999)
        #expect(router.view(.default).latencyMillis == 2_000)
        #expect(router.choose(now: t + 2_001) == .fallback)
        router.healthPolled(.default, failing: false, minResponseTime: 0, polledAt: t + 2_000)
        #expect(router.view(.default).latencyMillis == 2_000)
        router.healthPolled(.default, failing: false, minResponseTime: 0, polledAt: t + 2_001)
        #expect(router.view(.default).latencyMillis == 0)
        #expect(router.choose(now: t + 2_002) == .default)
    }

    @Test("at maxDefaultInFlight the overflow goes to a usable fallback")
    func overflow() {
        var router = Router()
        for _ in 0..<449 { router.callStarted(.default, now: t) }
        #expect(router.choose(now: t + 1) == .default)
        router.callStarted(.default, now: t)
        #expect(router.view(.default).inFlight == 450)
        #expect(router.choose(now: t + 1) == .fallback)
        router.callEnded(.default, startedAt: t, now: t + 2, outcome: .accepted)
        #expect(router.choose(now: t + 3) == .default)
    }

    @Test("overflow stays on default when fallback is not usable")
    func overflowWithoutFallback() {
        var policy = RoutingPolicy()
        policy.maxDefaultInFlight = 2
        var router = Router(policy: policy)
        router.call(.fallback, from: t, to: t + 1, .failed)
        for _ in 0..<5 { router.callStarted(.default, now: t + 2) }
        #expect(router.choose(now: t + 3) == .default)
    }

    @Test("inFlight never goes below zero")
    func inFlightFloor() {
        var router = Router()
        router.callEnded(.default, startedAt: t, now: t + 1, outcome: .accepted)
        #expect(router.view(.default).inFlight == 0)
        router.callStarted(.fallback, now: t)
        router.callStarted(.fallback, now: t + 1)
        #expect(router.view(.fallback).inFlight == 2)
        #expect(router.view(.fallback).waitingSince == t)
    }
}

/// A processor waits out the delay in force when a call arrives and reads its failure mode only
/// after it: the probe that shows an outage is over took as long as the outage's delay.
@Suite("Router: coming back from an outage")
struct RouterRecoveryTests {
    @Test("a probe that waited out the outage's long delay brings default back for one call, which settles its speed")
    func slowRecoveryIsConfirmed() {
        var router = Router()
        router.call(.default, from: t, to: t + 5, .failed)
        #expect(router.choose(now: t + 1_000) == .default)  // the probe, under a 2 s delay
        router.call(.default, from: t + 1_000, to: t + 3_000, .accepted)
        #expect(router.view(.default).latencyUnconfirmed)
        #expect(router.room(for: .default, now: t + 3_001) == 1)
        #expect(router.choose(now: t + 3_001) == .default)  // finds out how fast it is now
        router.callStarted(.default, now: t + 3_001)
        #expect(router.choices(from: t + 3_002, count: 18).count(.fallback) == 18)
        router.callEnded(.default, startedAt: t + 3_001, now: t + 3_021, outcome: .accepted)
        #expect(!router.view(.default).latencyUnconfirmed)
        #expect(router.view(.default).latencyMillis == 20)
        #expect(router.choices(from: t + 3_022, count: 100).count(.default) == 100)
    }

    @Test("a confirmation that is slow too keeps payments on fallback, with no further probe")
    func slowConfirmation() {
        var router = Router()
        router.call(.default, from: t, to: t + 5, .failed)
        _ = router.choose(now: t + 1_000)
        router.call(.default, from: t + 1_000, to: t + 3_000, .accepted)
        #expect(router.choose(now: t + 3_001) == .default)
        router.call(.default, from: t + 3_001, to: t + 5_001, .accepted)
        #expect(router.view(.default).latencyMillis == 2_000)
        #expect(router.choices(from: t + 5_002, count: 3_000).count(.fallback) == 3_000)
    }

    @Test("a probe that came back quickly brings default back at once, as before")
    func fastRecoveryNeedsNoConfirmation() {
        var router = Router()
        router.call(.default, from: t, to: t + 5, .failed)
        router.call(.default, from: t + 1_000, to: t + 1_100, .accepted)
        #expect(!router.view(.default).latencyUnconfirmed)
        #expect(router.room(for: .default, now: t + 1_101) > 1)
        #expect(router.choices(from: t + 1_101, count: 50).count(.default) == 50)
    }

    @Test("probes still out from the outage neither make default look stalled nor set its latency")
    func staleCallsIgnored() {
        var router = Router()
        router.call(.default, from: t, to: t + 5, .failed)
        // One probe a second under a 5 s delay: five out when the outage ends.
        for k in Int64(1)...5 { router.callStarted(.default, now: t + k * 1_000) }
        router.callEnded(.default, startedAt: t + 1_000, now: t + 6_000, outcome: .accepted)
        #expect(router.view(.default).staleInFlight == 4)
        #expect(router.choose(now: t + 6_001) == .default)
        router.call(.default, from: t + 6_001, to: t + 6_003, .accepted)
        #expect(router.choices(from: t + 6_004, count: 1_000).count(.default) == 1_000)
        for k in Int64(2)...5 {
            router.callEnded(.default, startedAt: t + k * 1_000, now: t + 5_000 + k * 1_000, outcome: .accepted)
        }
        #expect(router.view(.default).latencyMillis == 2)
        #expect(router.view(.default).inFlight == 0)
        #expect(router.view(.default).staleInFlight == 0)
        #expect(router.choose(now: t + 10_001) == .default)
    }

    @Test("a stale probe that fails after the recovery is still evidence of failing")
    func staleFailureCounts() {
        var router = Router()
        router.call(.default, from: t, to: t + 5, .failed)
        router.callStarted(.default, now: t + 1_000)
        router.callStarted(.default, now: t + 1_500)
        router.callEnded(.default, startedAt: t + 1_000, now: t + 2_000, outcome: .accepted)
        #expect(!router.view(.default).failing)
        router.callEnded(.default, startedAt: t + 1_500, now: t + 2_050, outcome: .failed)
        #expect(router.view(.default).failing)
        #expect(router.choices(from: t + 2_051, count: 500).count(.default) == 1)  // a probe
    }

    @Test("a health poll that ends the outage does not count the outage's probes as waiting")
    func pollRecoveryIgnoresStaleWaiting() {
        var router = Router()
        router.healthPolled(.default, failing: true, minResponseTime: 5_000, polledAt: t)
        for k in Int64(1)...3 { router.callStarted(.default, now: t + k * 1_000) }
        router.healthPolled(.default, failing: false, minResponseTime: 0, polledAt: t + 3_500)
        #expect(router.view(.default).staleInFlight == 3)
        #expect(router.choices(from: t + 4_000, count: 2_000).count(.default) == 2_000)
    }

    @Test("both unusable, fallback failing: default that came back slowly gets its confirmation")
    func confirmationWhileFallbackFails() {
        var router = Router()
        router.call(.default, from: t, to: t + 5, .failed)
        router.callStarted(.default, now: t + 1_000)
        router.call(.fallback, from: t + 5_000, to: t + 5_005, .failed)
        router.callEnded(.default, startedAt: t + 1_000, now: t + 6_000, outcome: .accepted)
        #expect(router.choose(now: t + 6_001) == .default)
        router.callStarted(.default, now: t + 6_001)
        #expect(router.choose(now: t + 6_002) == nil)
        router.callEnded(.default, startedAt: t + 6_001, now: t + 6_002, outcome: .accepted)
        #expect(router.choices(from: t + 6_003, count: 100).count(.default) == 100)
    }
}

@Suite("Router: one processor back hints at the other")
struct RouterSharedRecoveryTests {
    @Test("fallback back from an outage both had: default, still failing, is probed at once, then each interval")
    func probeDefaultWhenFallbackRecovers() {
        var router = Router()
        router.call(.default, from: t, to: t + 1, .failed)
        router.call(.fallback, from: t, to: t + 1, .failed)
        #expect(router.choose(now: t + 10) == .default)
        #expect(router.choose(now: t + 10) == .fallback)
        router.healthPolled(.fallback, failing: false, minResponseTime: 20, polledAt: t + 300)
        #expect(router.choose(now: t + 301) == .default)
        let after = router.choices(from: t + 302, count: 700)
        #expect(after.count(.default) == 0 && after.count(.fallback) == 700)
        #expect(router.choose(now: t + 1_301) == .default)
    }

    @Test("while only default fails, probes keep to the interval")
    func noExtraProbeWithoutRecovery() {
        var router = Router()
        router.call(.default, from: t, to: t + 1, .failed)
        #expect(router.choices(from: t + 1_000, count: 3_000).count(.default) == 3)
    }
}
