/// A URL query string (`a=1&b=2`) as decoded pairs.
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
                guard it.count >= 2, let hi = HexDigit.value(it.removeFirst()),
                    let lo = HexDigit.value(it.removeFirst())
                else {
                    return nil
                }
                out.append(hi << 4 | lo)
            } else {
                out.append(b)
            }
        }
        return String(validating: out, as: UTF8.self)
    }
}
