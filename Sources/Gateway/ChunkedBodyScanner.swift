/// Finds the end of a chunked body incrementally (RFC 9112 §7.1), reporting where the data
/// bytes are. Chunk extensions and trailers are skipped. Sizes are limited to 15 hex digits so
/// arithmetic cannot overflow; the caller limits the total.
struct ChunkedBodyScanner: Equatable {
    private enum State: Equatable {
        case size
        case sizeExtension
        case sizeLF
        case data(remaining: Int)
        case dataCR
        case dataLF
        case trailerLineStart
        case trailerLine
        case trailerLF
        case finalLF
    }

    private var state = State.size
    private var size = 0
    private var digits = 0

    /// Scans `p[from...]`; returns the index just past the body when it ends there, else nil
    /// (everything up to `p.count` was consumed and the next call resumes at `p.count`).
    mutating func scan(
        _ p: UnsafeRawBufferPointer,
        from: Int,
        onData: (Range<Int>) -> Void = { _ in }
    ) throws(SyntaxError) -> Int? {
        var i = from
        while i < p.count {
            let byte = p[i]
            switch state {
            case .size:
                if let value = Self.hexValue(byte) {
                    digits += 1
                    guard digits <= 15 else { throw .malformed }
                    size = size << 4 | value
                } else if digits > 0
                    && (byte == UInt8(ascii: ";") || byte == HTTPSyntax.space || byte == HTTPSyntax.tab)
                {
                    state = .sizeExtension
                } else if digits > 0 && byte == HTTPSyntax.cr {
                    state = .sizeLF
                } else {
                    throw .malformed
                }
            case .sizeExtension:
                if byte == HTTPSyntax.cr {
                    state = .sizeLF
                } else if !HTTPSyntax.isFieldValueByte(byte) {
                    throw .malformed
                }
            case .sizeLF:
                guard byte == HTTPSyntax.lf else { throw .malformed }
                state = size == 0 ? .trailerLineStart : .data(remaining: size)
                size = 0
                digits = 0
            case .data(let remaining):
                let take = min(remaining, p.count - i)
                onData(i..<(i + take))
                i += take
                state = take == remaining ? .dataCR : .data(remaining: remaining - take)
                continue
            case .dataCR:
                guard byte == HTTPSyntax.cr else { throw .malformed }
                state = .dataLF
            case .dataLF:
                guard byte == HTTPSyntax.lf else { throw .malformed }
                state = .size
            case .trailerLineStart:
                if byte == HTTPSyntax.cr {
                    state = .finalLF
                } else if HTTPSyntax.isFieldValueByte(byte) {
                    state = .trailerLine
                } else {
                    throw .malformed
                }
            case .trailerLine:
                if byte == HTTPSyntax.cr {
                    state = .trailerLF
                } else if !HTTPSyntax.isFieldValueByte(byte) {
                    throw .malformed
                }
            case .trailerLF:
                guard byte == HTTPSyntax.lf else { throw .malformed }
                state = .trailerLineStart
            case .finalLF:
                guard byte == HTTPSyntax.lf else { throw .malformed }
                state = .size
                return i + 1
            }
            i += 1
        }
        return nil
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}
