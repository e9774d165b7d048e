import NIOCore
import Testing

@testable import ProcessorSimulator

@Suite("The POST /payments admission state machine")
struct LimiterTests {
    @Test func slotsThenQueueThenRefusal() {
        var limiter = ConcurrencyLimiter<Int>(maxInFlight: 2, maxQueued: 2)
        var made: [Int] = []
        func acquire(_ n: Int) -> String {
            switch limiter.acquire({
                made.append(n)
                return n
            }) {
            case .run: return "run"
            case .queued: return "queued"
            case .rejected: return "rejected"
            }
        }
        #expect([1, 2, 3, 4, 5].map(acquire) == ["run", "run", "queued", "queued", "rejected"])
        #expect(made == [3, 4])  // a waiter is made only for those who wait
        #expect(limiter.inFlight == 2)
        #expect(limiter.release() == 3)  // first come, first served; the slot passes on
        #expect(limiter.inFlight == 2)
        #expect(acquire(6) == "queued")
        #expect(limiter.release() == 4)
        #expect(limiter.release() == 6)
        #expect(limiter.release() == nil)
        #expect(limiter.inFlight == 1)
        #expect(limiter.release() == nil)
        #expect(limiter.inFlight == 0)
        #expect(acquire(7) == "run")
        #expect(acquire(8) == "run")
        #expect(acquire(9) == "queued")
        #expect(limiter.removeAllWaiting() == [9])
        #expect(limiter.queued == 0)
        #expect(limiter.inFlight == 2)
    }

    @Test func aZeroQueueRefusesAsSoonAsTheSlotsAreTaken() {
        var limiter = ConcurrencyLimiter<Int>(maxInFlight: 1, maxQueued: 0)
        guard case .run = limiter.acquire({ 1 }) else {
            Issue.record("first call must run")
            return
        }
        guard case .rejected = limiter.acquire({ 2 }) else {
            Issue.record("second call must be refused")
            return
        }
    }

    @Test func aQueuedCallerWhoseClientLeftIsTakenOutAndNeverGetsTheSlot() {
        var limiter = ConcurrencyLimiter<Int>(maxInFlight: 1, maxQueued: 2)
        #expect(limiter.acquire({ 1 }) == .run)
        #expect(limiter.acquire({ 2 }) == .queued)
        #expect(limiter.acquire({ 3 }) == .queued)
        #expect(limiter.acquire({ 4 }) == .rejected)
        #expect(limiter.cancel(where: { $0 == 2 }) == 2)
        #expect(limiter.cancel(where: { $0 == 2 }) == nil)  // gone already
        #expect(limiter.acquire({ 5 }) == .queued)  // its place in the queue is free again
        #expect(limiter.release() == 3)
        #expect(limiter.release() == 5)
        #expect(limiter.release() == nil)
        #expect(limiter.inFlight == 0)
    }
}

/// The health limiter on an injected clock: milliseconds after the heartbeat grid's origin.
@Suite("The health endpoint's fixed-window limiter, as ASP.NET runs it")
struct FixedWindowLimiterTests {
    static let origin = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func at(_ millis: Int64) -> NIODeadline { Self.origin + .milliseconds(millis) }

    func limiter(window: Int64 = 5000) -> FixedWindowLimiter<Int> {
        FixedWindowLimiter(window: .milliseconds(window), origin: Self.origin)
    }

    /// One call: heartbeats up to `t` first (their released waiters are returned), then the call.
    func call(
        _ limiter: inout FixedWindowLimiter<Int>, _ id: Int, at t: Int64
    ) -> (FixedWindowLimiter<Int>.Decision, released: [Int]) {
        let released = limiter.advance(to: at(t))
        return (limiter.arrive(id: UInt64(id), at: at(t)) { id }, released)
    }

    @Test func oneQueuedCallerPerWindowSoTheSecondWaitsAFullWindowMore() {
        var health = limiter()
        #expect(call(&health, 1, at: 50).0 == .granted)  // creates the limiter: windows from 50 ms
        #expect(call(&health, 2, at: 1000).0 == .queued)
        #expect(call(&health, 3, at: 1200).0 == .queued)
        #expect(call(&health, 4, at: 1300).0 == .rejected)  // the queue holds 2
        // A window ends at 5050; the heartbeat that sees it beats at 5100.
        #expect(health.nextWakeup == at(5100))
        #expect(health.advance(to: at(5099)) == [])
        #expect(health.advance(to: at(5100)) == [2])
        #expect(health.nextWakeup == at(10_100))
        #expect(health.advance(to: at(10_099)) == [])
        #expect(health.advance(to: at(10_100)) == [3])
        #expect(health.nextWakeup == nil)
        #expect(health.queuedCount == 0)
    }

    @Test func windowsKeepTheirClockWhateverTheCallsDo() {
        var health = limiter()
        #expect(call(&health, 1, at: 0).0 == .granted)
        // Nobody calls for 7 s: the permit came back at 5000, on the clock started at 0.
        #expect(call(&health, 2, at: 7000).0 == .granted)
        #expect(call(&health, 3, at: 7500).0 == .queued)
        // Served when the window that started at 5000 ends, 2.5 s later, not 5 s after 7000.
        #expect(health.nextWakeup == at(10_000))
        #expect(health.advance(to: at(10_000)) == [3])
        #expect(call(&health, 4, at: 10_001).0 == .queued)
        #expect(health.advance(to: at(15_000)) == [4])
    }

    @Test func aCallerThatLeftTheQueueUsesNoPermitAndFreesItsPlace() {
        var health = limiter()
        _ = call(&health, 1, at: 0)
        #expect(call(&health, 2, at: 10).0 == .queued)
        #expect(call(&health, 3, at: 20).0 == .queued)
        #expect(health.cancel(id: 2) == 2)
        #expect(health.cancel(id: 2) == nil)
        #expect(call(&health, 4, at: 30).0 == .queued)  // the place is free again
        #expect(health.advance(to: at(5000)) == [3])  // the next in line gets that window
        #expect(health.advance(to: at(10_000)) == [4])
    }

    @Test func aLimiterIdleForMoreThanTenSecondsIsDiscardedAndTheNextCallStartsANewClock() {
        var health = limiter()
        _ = call(&health, 1, at: 0)
        // The permit is back at 5000 and unused: idle from then. The beat after 15000 drops it.
        #expect(health.advance(to: at(15_000)) == [])
        #expect(health.exists)
        #expect(health.advance(to: at(15_100)) == [])
        #expect(!health.exists)
        #expect(call(&health, 2, at: 16_234).0 == .granted)
        #expect(call(&health, 3, at: 16_300).0 == .queued)
        // The new clock started at 16234: that window ends at 21234, seen at the 21300 beat.
        #expect(health.nextWakeup == at(21_300))
    }

    @Test func aCallJustBeforeTheIdleLimitKeepsTheSameClock() {
        var health = limiter()
        _ = call(&health, 1, at: 0)
        #expect(call(&health, 2, at: 15_050).0 == .granted)
        #expect(health.exists)
        #expect(call(&health, 3, at: 15_060).0 == .queued)
        #expect(health.nextWakeup == at(20_000))
    }

    @Test func closingHandsBackEveryQueuedCaller() {
        var health = limiter()
        _ = call(&health, 1, at: 0)
        _ = call(&health, 2, at: 1)
        _ = call(&health, 3, at: 2)
        #expect(health.removeAllQueued() == [2, 3])
        #expect(health.nextWakeup == nil)
    }
}
