import NIOCore
import Testing

@testable import ProcessorSimulator

@Suite("The admission and health rate-limit state machines")
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

    func at(_ millis: Int64) -> NIODeadline {
        .uptimeNanoseconds(UInt64(1_000_000_000 + millis * 1_000_000))
    }

    func describe(_ decision: HealthWindowLimiter<Int>.Decision) -> String {
        switch decision {
        case .answer: return "answer"
        case .held(let opening?): return "held until \(opening.uptimeNanoseconds)"
        case .held(nil): return "held"
        case .rejected: return "rejected"
        }
    }

    @Test func oneAnswerPerWindowTwoHeldAndTheRestRefused() {
        var limiter = HealthWindowLimiter<Int>(window: .milliseconds(5000))
        #expect(describe(limiter.arrive(at: at(0)) { 0 }) == "answer")
        #expect(
            describe(limiter.arrive(at: at(10)) { 1 }) == "held until \(at(5000).uptimeNanoseconds)")
        #expect(describe(limiter.arrive(at: at(20)) { 2 }) == "held")  // the opening is already scheduled
        #expect(describe(limiter.arrive(at: at(30)) { 3 }) == "rejected")
        #expect(limiter.openWindow() == [1, 2])
        // That opening used the window [5000, 10000): the next caller in it is held again.
        #expect(limiter.windowEnd == at(10_000))
        #expect(
            describe(limiter.arrive(at: at(6000)) { 4 }) == "held until \(at(10_000).uptimeNanoseconds)")
        #expect(limiter.openWindow() == [4])
        #expect(describe(limiter.arrive(at: at(15_000)) { 5 }) == "answer")
        #expect(limiter.windowEnd == at(20_000))
    }

    @Test func whileHeldCallersWaitNobodyOvertakesThem() {
        var limiter = HealthWindowLimiter<Int>(window: .milliseconds(100))
        _ = limiter.arrive(at: at(0)) { 0 }
        _ = limiter.arrive(at: at(50)) { 1 }
        // The window is over but its opening has not run yet: the newcomer joins the held ones.
        #expect(describe(limiter.arrive(at: at(101)) { 2 }) == "held")
        #expect(limiter.openWindow() == [1, 2])
    }
}
