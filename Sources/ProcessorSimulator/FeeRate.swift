import PaymentCore

/// A non-negative decimal fee rate, exactly `mantissa / 10^scale` (`"0.05"` is 5 / 10^2).
/// Fees computed with it are exact decimals rendered from digits, never from a `Double`.
struct FeeRate: Sendable, Equatable {
    var mantissa: UInt64
    var scale: Int

    /// At most this many decimals in a rate; enough for any real fee (`0.000001`).
    static let maximumScale = 9

    /// Parses a plain decimal: digits, an optional `.` followed by at least one digit. No sign,
    /// no exponent, at most 9 decimals and at most 9 integer digits.
    init?(_ text: String) {
        var mantissa: UInt64 = 0
        var scale = 0
        var integerDigits = 0
        var inFraction = false
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if inFraction {
                    scale += 1
                    if scale > FeeRate.maximumScale { return nil }
                } else {
                    integerDigits += 1
                    if integerDigits > 9 { return nil }
                }
                mantissa = mantissa * 10 + UInt64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "."):
                if inFraction || integerDigits == 0 { return nil }
                inFraction = true
            default:
                return nil
            }
        }
        if integerDigits == 0 || (inFraction && scale == 0) { return nil }
        self.mantissa = mantissa
        self.scale = scale
    }

    /// The rate as a JSON number, trailing fraction zeros removed: `0.05`, `0.1`, `1`.
    var description: String {
        DecimalText.render(
            digits: DecimalText.digits(of: mantissa), scale: scale, minimumFractionDigits: 0)
    }

    /// The exact fee on `amount`: `amount × rate`, with trailing zeros removed but never fewer
    /// than two decimals (`2.985`, `1.393`, `5.00`, `0.00`).
    func fee(on amount: Money) -> String {
        let negative = amount.cents < 0
        let product = DecimalText.multiply(
            DecimalText.digits(of: amount.cents.magnitude), DecimalText.digits(of: mantissa))
        let text = DecimalText.render(digits: product, scale: scale + 2, minimumFractionDigits: 2)
        return negative && product.contains(where: { $0 != 0 }) ? "-" + text : text
    }
}

/// Exact decimal arithmetic on digit arrays (most significant first): only what fees need.
enum DecimalText {
    static func digits(of value: UInt64) -> [UInt8] {
        if value == 0 { return [0] }
        var result: [UInt8] = []
        var rest = value
        while rest > 0 {
            result.append(UInt8(rest % 10))
            rest /= 10
        }
        return result.reversed()
    }

    /// Schoolbook multiplication; exact for any length.
    static func multiply(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        var result = [Int](repeating: 0, count: a.count + b.count)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                let position = i + j + 1
                let sum = result[position] + Int(a[i]) * Int(b[j])
                result[position] = sum % 10
                result[position - 1] += sum / 10
            }
        }
        return result.map { UInt8($0) }
    }

    /// Places the decimal point `scale` digits from the right, drops leading zeros (keeping one
    /// before the point) and trailing fraction zeros past `minimumFractionDigits`.
    static func render(digits: [UInt8], scale: Int, minimumFractionDigits: Int) -> String {
        var padded = digits
        if padded.count <= scale {
            padded.insert(contentsOf: [UInt8](repeating: 0, count: scale + 1 - padded.count), at: 0)
        }
        var integer = padded[..<(padded.count - scale)].drop(while: { $0 == 0 })
        if integer.isEmpty { integer = [0] }
        var fraction = Array(padded[(padded.count - scale)...])
        while fraction.count > minimumFractionDigits, fraction.last == 0 { fraction.removeLast() }
        while fraction.count < minimumFractionDigits { fraction.append(0) }
        var text = String(integer.map { Character(Unicode.Scalar($0 + 48)) })
        if !fraction.isEmpty {
            text += "." + String(fraction.map { Character(Unicode.Scalar($0 + 48)) })
        }
        return text
    }
}
