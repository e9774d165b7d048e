import PaymentCore
import TextFormats

/// Instants as integer microseconds since the Unix epoch (UTC): the precision of the real
/// processor's Postgres `timestamp` column, which keeps what .NET parsed, truncated to µs.
enum Micros {
    /// Parses what `Timestamp.parseMillis` accepts, keeping up to six fraction digits (the rest
    /// truncated, as Npgsql truncates .NET ticks). A timestamp without a zone is read as UTC: the
    /// real service stores it as given in a column without a time zone.
    static func parse<S: StringProtocol>(_ text: S) -> Int64? {
        var text = String(text)
        var millis = Timestamp.parseMillis(text)
        if millis == nil, hasNoZone(text) {
            text += "Z"
            millis = Timestamp.parseMillis(text)
        }
        guard let millis else { return nil }
        // parseMillis validated the shape: the fraction, if any, starts right after `HH:MM:SS`.
        let bytes = Array(text.utf8)
        var extra: Int64 = 0
        var index = 20
        if bytes.count > 19, bytes[19] == UInt8(ascii: ".") || bytes[19] == UInt8(ascii: ",") {
            var position = 0
            while index < bytes.count, (48...57).contains(bytes[index]) {
                if (3..<6).contains(position) { extra = extra * 10 + Int64(bytes[index] - 48) }
                position += 1
                index += 1
            }
            for _ in min(max(position, 3), 6)..<6 { extra *= 10 }
        }
        let (product, overflow) = millis.multipliedReportingOverflow(by: 1000)
        return overflow ? nil : product + extra
    }

    /// `YYYY-MM-DDTHH:MM:SS` (19 characters) and optionally a fraction, but no zone designator.
    private static func hasNoZone(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count >= 19 else { return false }
        return bytes[19...].allSatisfy { (48...57).contains($0) || $0 == UInt8(ascii: ".") }
    }

    /// As System.Text.Json writes the `DateTime` that Npgsql reads from a `timestamp` column
    /// (kind Unspecified): no zone designator, the fraction without trailing zeros, and no
    /// fraction at all on a whole second (`2025-07-15T12:34:56.789`, `2025-07-15T12:34:56`).
    static func formatDotNet(_ micros: Int64) -> String {
        let fraction = ((micros % 1_000_000) + 1_000_000) % 1_000_000
        let wholeMillis = (micros - fraction) / 1000
        let secondText = String(Timestamp.format(millis: wholeMillis).prefix(19))
        if fraction == 0 { return secondText }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 6 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return secondText + "." + digits
    }

    /// The `from`/`to` window of the admin summary, to the microsecond. A missing or empty value
    /// is unbounded.
    static func window(_ rawQuery: Substring?) -> Result<(from: Int64?, to: Int64?), BadRequest> {
        guard let rawQuery else { return .success((nil, nil)) }
        guard let pairs = QueryString.parse(rawQuery) else {
            return .failure(BadRequest(message: "malformed query string"))
        }
        var from: Int64?
        var to: Int64?
        for (key, value) in pairs where key == "from" || key == "to" {
            if value.isEmpty { continue }
            guard let micros = parse(value) else {
                return .failure(BadRequest(message: "\(key) must be an ISO-8601 timestamp"))
            }
            if key == "from" { from = micros } else { to = micros }
        }
        return .success((from, to))
    }
}
