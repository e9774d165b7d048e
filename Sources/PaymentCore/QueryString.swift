/// Query-string handling for the summary endpoints.
public enum QueryString {
    /// Splits `a=1&b=2` into decoded pairs. Only percent-escapes are decoded: a literal `+` stays
    /// a `+`, because clients send ISO offsets like `+01:00` unencoded. Nil if an escape is bad.
    public static func parse<S: StringProtocol>(_ query: S) -> [(String, String)]? {
        var pairs: [(String, String)] = []
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = percentDecode(kv[0]) else { return nil }
            guard let value = kv.count > 1 ? percentDecode(kv[1]) : "" else { return nil }
            pairs.append((key, value))
        }
        return pairs
    }

    public static func percentDecode<S: StringProtocol>(_ text: S) -> String? {
        var out: [UInt8] = []
        var it = Array(text.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%") {
                guard it.count >= 2, let hi = hexValue(it.removeFirst()), let lo = hexValue(it.removeFirst()) else {
                    return nil
                }
                out.append(hi << 4 | lo)
            } else {
                out.append(b)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 48...57: return b - 48
        case 65...70: return b - 55
        case 97...102: return b - 87
        default: return nil
        }
    }

    /// Reads `from` and `to` as an inclusive window. A missing or empty value is unbounded.
    public static func window<S: StringProtocol>(_ query: S?) -> Result<TimeWindow, PaymentRequest.Invalid> {
        guard let query else { return .success(TimeWindow()) }
        guard let pairs = parse(query) else { return .failure(.init(message: "malformed query string")) }
        var window = TimeWindow()
        for (key, value) in pairs where key == "from" || key == "to" {
            if value.isEmpty { continue }
            guard let ms = Timestamp.parseMillis(value) else {
                return .failure(.init(message: "\(key) must be an ISO-8601 timestamp"))
            }
            if key == "from" { window.from = ms } else { window.to = ms }
        }
        return .success(window)
    }
}
