import Testing
import TextFormats

@testable import PaymentCore

@Suite("PaymentsSummary and TimeWindow")
struct PaymentsSummaryTests {
    @Test("an empty summary is the contract's shape with zeros")
    func emptyJSON() {
        #expect(
            PaymentsSummary().json
                == #"{"default":{"totalRequests":0,"totalAmount":0.00},"fallback":{"totalRequests":0,"totalAmount":0.00}}"#
        )
    }

    @Test("amounts are written with two decimals, counts as integers")
    func json() {
        let summary = PaymentsSummary(
            default: ProcessorTotals(totalRequests: 43_236, totalAmount: Money(cents: 86_688_180)),
            fallback: ProcessorTotals(totalRequests: 3, totalAmount: Money(cents: 6015)))
        #expect(
            summary.json
                == #"{"default":{"totalRequests":43236,"totalAmount":866881.80},"fallback":{"totalRequests":3,"totalAmount":60.15}}"#
        )
    }

    @Test("the JSON is what JSONScanner reads back")
    func jsonParses() {
        let summary = PaymentsSummary(
            fallback: ProcessorTotals(totalRequests: 1, totalAmount: Money(cents: 5)))
        let members = JSONScanner.parseObject(Array(summary.json.utf8))
        #expect(members?.map(\.0) == ["default", "fallback"])
    }

    @Test("a window includes both ends to the millisecond")
    func inclusive() {
        let w = TimeWindow(from: 1_000, to: 2_000)
        #expect(!w.contains(999))
        #expect(w.contains(1_000))
        #expect(w.contains(1_500))
        #expect(w.contains(2_000))
        #expect(!w.contains(2_001))
        #expect(TimeWindow(from: 5, to: 5).contains(5))
        #expect(!TimeWindow(from: 6, to: 5).contains(5))
    }

    @Test("a missing bound is unbounded")
    func unbounded() {
        #expect(TimeWindow().contains(.min))
        #expect(TimeWindow().contains(.max))
        #expect(TimeWindow(from: 10).contains(.max))
        #expect(!TimeWindow(from: 10).contains(9))
        #expect(TimeWindow(to: 10).contains(.min))
        #expect(!TimeWindow(to: 10).contains(11))
    }

    @Test("Processor codes and the other processor")
    func processor() {
        #expect(Processor.default.other == .fallback)
        #expect(Processor.fallback.other == .default)
        #expect(Processor(code: "d") == .default)
        #expect(Processor(code: "f") == .fallback)
        #expect(Processor(code: "x") == nil)
        #expect(Processor(code: "") == nil)
        for p in Processor.allCases { #expect(Processor(code: Substring(p.code)) == p) }
    }
}
