import PaymentCore
import Testing

@testable import ProcessorSimulator

@Suite("Fee rates and exact fees")
struct FeeRateTests {
    @Test(arguments: ["0.05", "0.15", "0.07", "1", "0.000000001", "12.5", "0.050"])
    func plainDecimalsAreRates(_ text: String) {
        #expect(FeeRate(text) != nil)
    }

    @Test(arguments: [
        "", ".05", "0.", "-0.05", "+0.05", "5e-2", "0.05%", "0,05", "1.2.3", "0.0000000001",
        "1234567890",
    ])
    func anythingElseIsRefused(_ text: String) {
        #expect(FeeRate(text) == nil)
    }

    @Test func theRateIsPrintedWithoutTrailingZeros() {
        #expect(FeeRate("0.050")?.description == "0.05")
        #expect(FeeRate("0.15")?.description == "0.15")
        #expect(FeeRate("1.0")?.description == "1")
        #expect(FeeRate("007")?.description == "7")
        #expect(FeeRate("0.000000001")?.description == "0.000000001")
    }

    @Test(arguments: [
        ("0.05", 5970, "2.985"),
        ("0.15", 1990, "2.985"),
        ("0.07", 2005, "1.4035"),
        ("0.05", 10000, "5.00"),
        ("0.05", 0, "0.00"),
        ("0.1", 1, "0.001"),
        ("1", 1990, "19.90"),
        ("0.000000001", 1, "0.00000000001"),
        ("0.123456789", Int64.max, "11386878954224802.80447103723"),
    ])
    func feesAreExactWithAtLeastTwoDecimals(_ rate: String, _ cents: Int64, _ expected: String) throws {
        let feeRate = try #require(FeeRate(rate))
        #expect(feeRate.fee(on: Money(cents: cents)) == expected)
    }
}
