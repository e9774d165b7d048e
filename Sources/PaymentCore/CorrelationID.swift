import TextFormats

/// Checks the canonical textual UUID form: 8-4-4-4-12 hexadecimal digits (either case).
public enum CorrelationID {
    public static func isValid<S: StringProtocol>(_ text: S) -> Bool {
        var count = 0
        for byte in text.utf8 {
            switch count {
            case 8, 13, 18, 23:
                guard byte == UInt8(ascii: "-") else { return false }
            default:
                guard HexDigit.isDigit(byte) else { return false }
            }
            count += 1
            if count > 36 { return false }
        }
        return count == 36
    }
}
