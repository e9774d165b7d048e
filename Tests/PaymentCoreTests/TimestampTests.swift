import TestSupport
import Testing

@testable import PaymentCore

@Suite("Timestamp")
struct TimestampTests {
    static let reference: Int64 = 1_752_150_896_000  // 2025-07-10T12:34:56.000Z

    @Test(
        "parseMillis reads the forms clients send as the same instant",
        arguments: [
            "2025-07-10T12:34:56.000Z", "2025-07-10T12:34:56Z", "2025-07-10T12:34:56.0Z",
            "2025-07-10T12:34:56.00Z",
            "2025-07-10T12:34:56.000000000Z", "2025-07-10t12:34:56.000z", "2025-07-10 12:34:56.000Z",
            "2025-07-10T13:34:56.000+01:00", "2025-07-10T13:34:56+0100", "2025-07-10T09:34:56.000-03:00",
            "2025-07-10T09:34:56.000-0300", "2025-07-10T12:34:56.000+00:00",
            "2025-07-10T12:34:56.000-00:00",
            "2025-07-11T02:04:56.000+13:30", "2025-07-10T12:34:56,000Z",
        ])
    func sameInstant(text: String) {
        #expect(Timestamp.parseMillis(text) == Self.reference)
    }

    @Test(
        "parseMillis keeps milliseconds and truncates digits past them",
        arguments: [
            (".1", 100), (".12", 120), (".123", 123), (".1239", 123), (".12399", 123),
            (".999999999", 999),
            (".001", 1), (".0009", 0), (".000", 0),
        ] as [(String, Int64)])
    func fraction(fraction: String, millis: Int64) {
        #expect(Timestamp.parseMillis("2025-07-10T12:34:56\(fraction)Z") == Self.reference + millis)
    }

    @Test(
        "parseMillis gives the known epoch values",
        arguments: [
            ("1970-01-01T00:00:00.000Z", 0), ("1970-01-01T00:00:00.001Z", 1),
            ("1969-12-31T23:59:59.999Z", -1),
            ("2000-02-29T23:59:59.999Z", 951_868_799_999), ("2000-03-01T00:00:00.000Z", 951_868_800_000),
            ("2024-02-29T12:00:00.000Z", 1_709_208_000_000),
            ("1900-03-01T00:00:00.000Z", -2_203_891_200_000),
            ("0001-01-01T00:00:00.000Z", -62_135_596_800_000),
            ("9999-12-31T23:59:59.999Z", 253_402_300_799_999),
            ("1970-01-01T01:00:00.000+01:00", 0),
        ] as [(String, Int64)])
    func knownValues(text: String, millis: Int64) {
        #expect(Timestamp.parseMillis(text) == millis)
    }

    @Test(
        "parseMillis refuses impossible dates and times",
        arguments: [
            "2025-02-30T00:00:00.000Z", "2025-02-29T00:00:00.000Z", "1900-02-29T00:00:00.000Z",
            "2025-04-31T00:00:00.000Z", "2025-13-01T00:00:00.000Z", "2025-00-10T00:00:00.000Z",
            "2025-07-00T00:00:00.000Z", "2025-07-32T00:00:00.000Z", "2025-07-10T24:00:00.000Z",
            "2025-07-10T12:60:00.000Z", "2025-07-10T12:34:61.000Z", "2025-07-10T12:34:56.000+24:00",
            "2025-07-10T12:34:56.000+01:60",
        ])
    func impossible(text: String) {
        #expect(Timestamp.parseMillis(text) == nil)
    }

    @Test(
        "parseMillis refuses malformed text and trailing junk",
        arguments: [
            "", "2025-07-10", "2025-07-10T12:34:56", "2025-07-10T12:34:56.000",
            "2025-07-10T12:34:56.000Z ",
            " 2025-07-10T12:34:56.000Z", "2025-07-10T12:34:56.000Zx", "2025-07-10T12:34:56.000ZZ",
            "2025-07-10T12:34:56.Z", "2025-07-10T12:34:56.1234567890Z", "2025-07-10T12:34Z",
            "2025-7-10T12:34:56Z",
            "25-07-10T12:34:56Z", "2025/07/10T12:34:56Z", "2025-07-10X12:34:56Z",
            "2025-07-10T12:34:56+1:00",
            "2025-07-10T12:34:56+01", "2025-07-10T12:34:56+01:0", "2025-07-10T12:34:56+01:00:00",
            "2025-07-10T12:34:56 +01:00", "2025-07-10T12:34:5aZ", "1752150896000", "-025-07-10T12:34:56Z",
            "2025-07-10T12:34:56.000UTC",
        ])
    func malformed(text: String) {
        #expect(Timestamp.parseMillis(text) == nil)
    }

    @Test(
        "format writes JavaScript's toISOString form",
        arguments: [
            (0, "1970-01-01T00:00:00.000Z"), (-1, "1969-12-31T23:59:59.999Z"),
            (1_752_150_896_000, "2025-07-10T12:34:56.000Z"),
            (1_752_150_896_007, "2025-07-10T12:34:56.007Z"),
            (951_868_799_999, "2000-02-29T23:59:59.999Z"),
            (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
            (-2_203_891_200_000, "1900-03-01T00:00:00.000Z"),
        ] as [(Int64, String)])
    func format(millis: Int64, text: String) {
        #expect(Timestamp.format(millis: millis) == text)
    }

    @Test("format then parseMillis gives back the same millisecond, years 1 to 9999")
    func roundTrip() {
        var rng = SeededGenerator(seed: 0x5449_4D45)
        for _ in 0..<20_000 {
            let ms = Int64.random(in: -62_135_596_800_000...253_402_300_799_999, using: &rng)
            let text = Timestamp.format(millis: ms)
            #expect(text.utf8.count == 24)
            #expect(Timestamp.parseMillis(text) == ms, "\(ms) -> \(text)")
        }
    }

    @Test("format then parseMillis round-trips every millisecond around a day boundary and leap days")
    func roundTripBoundaries() {
        for base in [Int64(0), 951_782_400_000, 951_868_800_000, 1_709_164_800_000, 1_752_105_600_000] {
            for ms in (base - 1_500)...(base + 1_500) {
                #expect(Timestamp.parseMillis(Timestamp.format(millis: ms)) == ms)
            }
        }
    }
}
