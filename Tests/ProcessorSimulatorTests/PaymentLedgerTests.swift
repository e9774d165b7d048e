import PaymentCore
import Testing

@testable import ProcessorSimulator

@Suite("The in-memory ledger")
struct PaymentLedgerTests {
    /// Instants in milliseconds, stored in microseconds.
    func payment(_ id: String, cents: Int64, at millis: Int64) -> StoredPayment {
        StoredPayment(correlationId: id, amount: Money(cents: cents), requestedAtMicros: millis * 1000)
    }

    @Test func aSecondInsertOfAnIdIsADuplicateAndChangesNothing() {
        var ledger = PaymentLedger()
        #expect(ledger.insert(payment("a", cents: 100, at: 1_000)) == .inserted)
        #expect(ledger.insert(payment("a", cents: 900, at: 5_000)) == .duplicate)
        #expect(ledger.payment(id: "a") == payment("a", cents: 100, at: 1_000))
        #expect(ledger.total == PaymentTotals(count: 1, amount: Money(cents: 100)))
    }

    @Test func summariesCountInclusiveWindowsToTheMillisecond() {
        var ledger = PaymentLedger()
        let base: Int64 = 1_752_148_800_000
        for (index, offset) in [0, 1, 999, 1000, 2500, 7_000].enumerated() {
            _ = ledger.insert(payment("p\(index)", cents: 1 << index, at: base + Int64(offset)))
        }
        func cents(_ from: Int64?, _ to: Int64?) -> Int64 {
            ledger.summary(from: from.map { (base + $0) * 1000 }, to: to.map { (base + $0) * 1000 }).amount.cents
        }
        #expect(cents(nil, nil) == 63)
        #expect(cents(0, 0) == 1)
        #expect(cents(1, 999) == 2 + 4)
        #expect(cents(1, 1000) == 2 + 4 + 8)
        #expect(cents(999, 2500) == 4 + 8 + 16)
        #expect(cents(1000, nil) == 8 + 16 + 32)
        #expect(cents(nil, 998) == 1 + 2)
        #expect(cents(2501, 6_999) == 0)
        #expect(cents(10, 5) == 0)
        #expect(ledger.summary(from: (base + 1) * 1000, to: (base + 1000) * 1000).count == 3)
    }

    @Test func summariesCountToTheMicrosecond() {
        var ledger = PaymentLedger()
        let base: Int64 = 1_752_148_800_000_000
        _ = ledger.insert(StoredPayment(correlationId: "a", amount: Money(cents: 1), requestedAtMicros: base + 999))
        _ = ledger.insert(StoredPayment(correlationId: "b", amount: Money(cents: 2), requestedAtMicros: base + 1000))
        #expect(ledger.summary(from: nil, to: base + 999).amount.cents == 1)
        #expect(ledger.summary(from: base + 1000, to: nil).amount.cents == 2)
        #expect(ledger.summary(from: base, to: base + 1000).amount.cents == 3)
    }

    @Test func instantsBefore1970LandInTheRightSecond() {
        #expect(PaymentLedger.second(of: -1) == -1)
        #expect(PaymentLedger.second(of: -1_000_000) == -1)
        #expect(PaymentLedger.second(of: -1_000_001) == -2)
        var ledger = PaymentLedger()
        _ = ledger.insert(payment("a", cents: 1, at: -1))
        _ = ledger.insert(payment("b", cents: 2, at: -1000))
        #expect(ledger.summary(from: -999_000, to: 0).amount.cents == 1)
    }

    @Test func aSumThatWouldOverflowIsRefused() {
        var ledger = PaymentLedger()
        #expect(ledger.insert(payment("a", cents: .max - 10, at: 0)) == .inserted)
        #expect(ledger.insert(payment("b", cents: 11, at: 0)) == .tooLarge)
        #expect(ledger.payment(id: "b") == nil)
        #expect(ledger.count == 1)
    }

    @Test func removeAllEmptiesEverything() {
        var ledger = PaymentLedger()
        _ = ledger.insert(payment("a", cents: 1, at: 0))
        ledger.removeAll()
        #expect(ledger.count == 0)
        #expect(ledger.summary(from: nil, to: nil) == PaymentTotals())
        #expect(ledger.summary(from: -5, to: 5) == PaymentTotals())
        #expect(ledger.insert(payment("a", cents: 1, at: 0)) == .inserted)
    }
}
