import Testing

@testable import Worker

private let t0: Int64 = 1_752_150_896_000

@Suite("ClaimPacer: payments claimed per second while a backlog drains")
struct ClaimPacerTests {
    @Test func withoutACapEverythingIsAllowedAtOnce() {
        var pacer = ClaimPacer(perSecond: 0, burst: 16, now: t0)
        #expect(pacer.allowance(now: t0) == Int.max)
        pacer.claimed(1_000, of: 1_000, now: t0)
        #expect(pacer.allowance(now: t0) == Int.max)
        #expect(pacer.wait(for: 16, now: t0) == 0)
    }

    @Test func aFullBatchAtOnceThenThePace() {
        var pacer = ClaimPacer(perSecond: 400, burst: 16, now: t0)
        #expect(pacer.unpaced)  // no backlog yet
        pacer.claimed(16, of: 16, now: t0)  // a full claim: a backlog
        #expect(!pacer.unpaced)
        #expect(pacer.allowance(now: t0) == 16)
        pacer.claimed(16, of: 16, now: t0)
        #expect(pacer.allowance(now: t0) == 0)
        // 400 a second is one every 2.5 ms, a batch of 16 every 40 ms.
        #expect(pacer.wait(for: 1, now: t0) == 3)
        #expect(pacer.wait(for: 16, now: t0) == 40)
        #expect(pacer.wait(for: 1_000, now: t0) == 40)
        #expect(pacer.allowance(now: t0 + 2) == 0)
        #expect(pacer.allowance(now: t0 + 3) == 1)
        #expect(pacer.allowance(now: t0 + 10) == 4)
        // Never more than one batch, however long it was idle.
        #expect(pacer.allowance(now: t0 + 60_000) == 16)
    }

    /// The claim loop against a backlog of `backlog` payments arriving at `arrivals` a second,
    /// for `millis`: payments claimed per 100 ms, and what is still queued at the end.
    func drain(_ pacer: inout ClaimPacer, backlog: Int, arrivals: Int = 0, millis: Int64) -> (
        perTenth: [Int], left: Int
    ) {
        var queued = backlog
        var perTenth = [Int](repeating: 0, count: Int(millis / 100))
        var now = t0
        var arrived = 0
        while now < t0 + millis {
            let due = Int((now - t0) * Int64(arrivals) / 1000)
            queued += due - arrived
            arrived = due
            if pacer.allowance(now: now) < 16 {
                now += max(1, pacer.wait(for: 16, now: now))
                continue
            }
            let n = min(16, queued)
            queued -= n
            pacer.claimed(n, of: 16, now: now)
            perTenth[Int((now - t0) / 100)] += n
            now += n < 16 ? 25 : 1  // the linger after a short claim; a claim takes time too
        }
        return (perTenth, queued)
    }

    @Test func aBacklogDrainsAtThePaceInWholeBatches() {
        var pacer = ClaimPacer(perSecond: 400, burst: 16, now: t0)
        let (claimed, _) = drain(&pacer, backlog: 1_000, millis: 2_000)
        // Two batches (the first shows the backlog, the second is the bucket's) plus 400 a
        // second, 40 ms apart: never a burst of more.
        #expect(claimed.reduce(0, +) >= 800 && claimed.reduce(0, +) <= 832)
        #expect(claimed.dropFirst().allSatisfy { $0 <= 48 })
    }

    @Test func aBacklogThatOutrunsThePaceIsClaimedAtFullSpeedAfterThePatience() {
        // 600 a second arrive on 2,000 queued: the pace alone lets the queue grow for good.
        var patient = ClaimPacer(perSecond: 400, burst: 16, patienceMillis: 60_000, now: t0)
        let (_, grown) = drain(&patient, backlog: 2_000, arrivals: 600, millis: 3_000)
        #expect(grown > 2_400)  // more than it started with
        // With a second's patience, the backlog is cleared at full speed after a paced second,
        // and again whenever the pace has fallen a second behind.
        var pacer = ClaimPacer(perSecond: 400, burst: 16, patienceMillis: 1_000, now: t0)
        let (claimed, left) = drain(&pacer, backlog: 2_000, arrivals: 600, millis: 3_000)
        #expect(claimed.dropFirst().prefix(9).allSatisfy { $0 <= 48 })
        #expect(claimed[10] > 1_000)
        #expect(left < 700)
    }

    @Test func anEmptyQueueEndsTheBacklogAndTheNextBacklogIsPacedAgain() {
        var pacer = ClaimPacer(perSecond: 400, burst: 16, patienceMillis: 1_000, now: t0)
        _ = drain(&pacer, backlog: 100_000, millis: 1_500)
        #expect(pacer.unpaced)  // outrun
        pacer.claimed(3, of: 16, now: t0 + 1_500)  // the queue is empty
        #expect(pacer.unpaced)  // and stays unpaced while claims come back short
        pacer.claimed(16, of: 16, now: t0 + 1_530)  // a new backlog
        #expect(!pacer.unpaced)
        // Spent nothing while unpaced: the bucket refilled meanwhile.
        #expect(pacer.allowance(now: t0 + 1_540) == 16)
    }

    @Test func aSteadyLoadJustUnderTheCapIsNeverPaced() {
        var pacer = ClaimPacer(perSecond: 400, burst: 16, now: t0)
        // 380 a second: each claim after the 25 ms linger finds ~10, fewer than it asks for.
        let (claimed, left) = drain(&pacer, backlog: 0, arrivals: 380, millis: 5_000)
        #expect(pacer.unpaced)
        #expect(left < 16)
        #expect(claimed.reduce(0, +) > 1_850)
    }

    @Test func anAdoptedPaymentPastTheAllowanceIsPaidBackBeforeTheNext() {
        var pacer = ClaimPacer(perSecond: 100, burst: 1, now: t0)
        pacer.claimed(1, of: 1, now: t0)  // a backlog
        pacer.claimed(1, of: 1, now: t0)
        pacer.claimed(1, of: 1, now: t0)  // adopted from BLMOVE with nothing left
        #expect(pacer.allowance(now: t0 + 10) == 0)
        #expect(pacer.wait(for: 1, now: t0 + 10) == 10)
        #expect(pacer.allowance(now: t0 + 20) == 1)
    }

    @Test func aClockThatStepsBackAddsNothingAndStallsNothing() {
        var pacer = ClaimPacer(perSecond: 1_000, burst: 4, now: t0)
        pacer.claimed(4, of: 4, now: t0)  // a backlog
        pacer.claimed(4, of: 4, now: t0)
        #expect(pacer.allowance(now: t0 - 5_000) == 0)
        // Paced from the new reading, not stalled until the clock is back at t0.
        #expect(pacer.allowance(now: t0 - 4_999) == 1)
    }
}
