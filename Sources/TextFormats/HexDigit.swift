/// One ASCII hexadecimal digit (either case), as the JSON `\u` escape, a query's `%` escape and a
/// UUID write it.
public enum HexDigit {
    /// The digit's value, or nil if the byte is not a hex digit.
    @inlinable
    public static func value(_ b: UInt8) -> UInt8? {
        switch b {
        case 48...57: return b - 48
        case 65...70: return b - 55
        case 97...102: return b - 87
        default: return nil
        }
    }

    @inlinable
    public static func isDigit(_ b: UInt8) -> Bool { value(b) != nil }
}
