/// An exact amount of money in integer cents (two decimal places). Never a floating-point value.
public struct Money: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var cents: Int64

    public init(cents: Int64) { self.cents = cents }

    /// The largest amount accepted from outside: 100 billion units, far from Int64 overflow
    /// even when millions of payments are summed.
    public static let maximum = Money(cents: 10_000_000_000_000)

    public static func < (lhs: Money, rhs: Money) -> Bool { lhs.cents < rhs.cents }
    public static func + (lhs: Money, rhs: Money) -> Money { Money(cents: lhs.cents + rhs.cents) }
    public static func += (lhs: inout Money, rhs: Money) { lhs.cents += rhs.cents }
    public static let zero = Money(cents: 0)

    /// Parses a plain decimal (`20`, `19.9`, `19.90`, `19.900`) exactly. Digits past the second
    /// decimal are accepted only when they are zeros. No sign, exponent, spaces or leading `.`.
    /// Returns nil for anything else or for an amount above `maximum`.
    public static func parse<S: StringProtocol>(_ text: S) -> Money? {
        var units: Int64 = 0
        var fraction: Int64 = 0
        var fractionDigits = 0
        var seenDigit = false
        var inFraction = false
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                let digit = Int64(byte &- UInt8(ascii: "0"))
                if inFraction {
                    if fractionDigits < 2 {
                        fraction = fraction * 10 + digit
                    } else if digit != 0 {
                        return nil
                    }
                    fractionDigits += 1
                } else {
                    units = units * 10 + digit
                    if units > maximum.cents / 100 { return nil }
                    seenDigit = true
                }
            case UInt8(ascii: "."):
                if inFraction || !seenDigit { return nil }
                inFraction = true
            default:
                return nil
            }
        }
        if !seenDigit || (inFraction && fractionDigits == 0) { return nil }
        if fractionDigits == 1 { fraction *= 10 }
        let cents = units * 100 + fraction
        return cents > maximum.cents ? nil : Money(cents: cents)
    }

    /// Always two decimals: `19.90`, `0.05`, `-1.20`.
    public var description: String {
        let sign = cents < 0 ? "-" : ""
        let magnitude = cents.magnitude
        let units = magnitude / 100
        let rest = magnitude % 100
        return "\(sign)\(units).\(rest < 10 ? "0" : "")\(rest)"
    }
}
