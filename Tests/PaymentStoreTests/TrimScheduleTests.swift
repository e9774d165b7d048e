import Testing

@testable import PaymentStore

@Suite("TrimSchedule")
struct TrimScheduleTests {
    @Test("the first booking call of each second trims, the others of that second do not")
    func oncePerSecond() {
        let schedule = TrimSchedule()
        #expect(schedule.isDue(now: 1_752_150_896_000))
        #expect(!schedule.isDue(now: 1_752_150_896_001))
        #expect(!schedule.isDue(now: 1_752_150_896_999))
        #expect(schedule.isDue(now: 1_752_150_897_000))
        #expect(!schedule.isDue(now: 1_752_150_897_500))
        #expect(schedule.isDue(now: 1_752_150_899_000))
    }
}
