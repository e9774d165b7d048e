import TestSupport
import Testing

@testable import PaymentCore

@Suite("Money")
struct MoneyTests {
    @Test(
        "parse accepts plain decimals with up to two significant decimals",
        arguments: [
            ("20", 2000), ("19.9", 1990), ("19.90", 1990), ("19.900", 1990), ("0.01", 1), ("20.05", 2005),
            ("0", 0), ("0.00", 0), ("1.000000", 100), ("100000000000", 10_000_000_000_000),
            ("99999999999.99", 9_999_999_999_999),
        ] as [(String, Int64)])
    func parseAccepts(text: String, cents: Int64) {
        #expect(Money.parse(text) == Money(cents: cents))
    }

    @Test(
        "parse refuses signs, exponents, spaces, commas, lone points, a third significant decimal and huge values",
        arguments: [
            "-1", "+1", "1.234", "19.901", ".5", "5.", "1e2", "1E2", "", " 1", "1 ", "1,5", "1..2",
            "1.2.3", ".",
            "abc", "0x10", "\u{FF11}", "100000000000.01", "100000000001", "9999999999999999999999999",
            "99999999999999999999999999999999999999.00",
        ])
    func parseRefuses(text: String) {
        #expect(Money.parse(text) == nil)
    }

    @Test("parse reads a Substring the same as a String")
    func parseSubstring() {
        let text = "amount=19.90"
        #expect(Money.parse(text.dropFirst(7)) == Money(cents: 1990))
    }

    @Test(
        "description always has two decimals",
        arguments: [
            (0, "0.00"), (1, "0.01"), (5, "0.05"), (10, "0.10"), (1990, "19.90"), (2000, "20.00"),
            (2005, "20.05"),
            (-120, "-1.20"), (-5, "-0.05"), (10_000_000_000_000, "100000000000.00"),
            (Int64.max, "92233720368547758.07"), (Int64.min, "-92233720368547758.08"),
        ] as [(Int64, String)])
    func description(cents: Int64, text: String) {
        #expect(Money(cents: cents).description == text)
        #expect("\(Money(cents: cents))" == text)
    }

    @Test("description parses back to the same amount for any accepted amount")
    func roundTrip() {
        var rng = SeededGenerator(seed: 0x4D6F_6E65)
        for _ in 0..<5_000 {
            let money = Money(cents: Int64.random(in: 0...Money.maximum.cents, using: &rng))
            #expect(Money.parse(money.description) == money)
        }
        #expect(Money.parse(Money.maximum.description) == Money.maximum)
    }

    @Test("sums and comparisons are exact in cents")
    func arithmetic() {
        var total = Money.zero
        for _ in 0..<1_000 { total += Money.parse("0.10")! }
        #expect(total == Money(cents: 10_000))
        #expect(total.description == "100.00")
        #expect(Money(cents: 1990) + Money(cents: 15) == Money(cents: 2005))
        #expect(Money(cents: 1) < Money(cents: 2))
        #expect(!(Money(cents: 2) < Money(cents: 2)))
    }
}
