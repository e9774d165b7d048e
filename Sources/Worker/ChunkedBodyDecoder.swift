/// Decodes a chunked body (RFC 9112 §7.1) incrementally, collecting its data bytes. Chunk
/// extensions and trailer fields are skipped. Sizes have at most 8 hex digits and the body at
/// most `ProcessorResponseFramer.maxBodyBytes`, so nothing can overflow or grow unbounded.
struct ChunkedBodyDecoder {
    enum Result: Equatable {
        case needMore
        /// The body ended; the index just past it.
        case end(Int)
        case malformed
    }

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
    private(set) var body: [UInt8] = []

    /// Decodes `p[from...]`; the next call resumes at `p.count`.
    mutating func decode(_ p: UnsafeRawBufferPointer, from: Int) -> Result {
        var i = from
        while i < p.count {
            let byte = p[i]
            switch state {
            case .size:
                if let value = Self.hexValue(byte) {
                    digits += 1
                    guard digits <= 8 else { return .malformed }
                    size = size << 4 | value
                } else if digits > 0
                    && (byte == UInt8(ascii: ";") || byte == UInt8(ascii: " ") || byte == HTTPBytes.tab)
                {
                    state = .sizeExtension
                } else if digits > 0 && byte == HTTPBytes.cr {
                    state = .sizeLF
                } else {
                    return .malformed
                }
            case .sizeExtension:
                if byte == HTTPBytes.cr {
                    state = .sizeLF
                } else if !Self.isFieldByte(byte) {
                    return .malformed
                }
            case .sizeLF:
                guard byte == HTTPBytes.lf else { return .malformed }
                guard body.count + size <= ProcessorResponseFramer.maxBodyBytes else { return .malformed }
                state = size == 0 ? .trailerLineStart : .data(remaining: size)
                size = 0
                digits = 0
            case .data(let remaining):
                let take = min(remaining, p.count - i)
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[i..<(i + take)]))
                i += take
                state = take == remaining ? .dataCR : .data(remaining: remaining - take)
                continue
            case .dataCR:
                guard byte == HTTPBytes.cr else { return .malformed }
                state = .dataLF
            case .dataLF:
                guard byte == HTTPBytes.lf else { return .malformed }
                state = .size
            case .trailerLineStart:
                if byte == HTTPBytes.cr {
                    state = .finalLF
                } else if Self.isFieldByte(byte) {
                    state = .trailerLine
                } else {
                    return .malformed
                }
            case .trailerLine:
                if byte == HTTPBytes.cr {
                    state = .trailerLF
                } else if !Self.isFieldByte(byte) {
                    return .malformed
                }
            case .trailerLF:
                guard byte == HTTPBytes.lf else { return .malformed }
                state = .trailerLineStart
            case .finalLF:
                guard byte == HTTPBytes.lf else { return .malformed }
                return .end(i + 1)
            }
            i += 1
        }
        return .needMore
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// Visible ASCII, space, tab and obs-text: what a field line or an extension may hold.
    private static func isFieldByte(_ b: UInt8) -> Bool { b == HTTPBytes.tab || (b >= 0x20 && b != 0x7F) }
}
