/// Finds the end of an HTTP/1.1 chunked body incrementally (RFC 9112 §7.1), reporting where its
/// data bytes are. Chunk extensions and trailers are skipped. Chunk sizes are limited to
/// `maxSizeDigits` hex digits (at most 15) so arithmetic cannot overflow; callers limit the total.
/// Shared by the gateway (request and response framing) and the worker's processor client.
/// Inlinable: it runs over every chunked answer of a processor, on the payment path.
public struct ChunkedBodyScanner: Equatable, Sendable {
    public struct Malformed: Error, Equatable {
        public init() {}
    }

    @usableFromInline
    enum State: Equatable, Sendable {
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

    @usableFromInline var state = State.size
    @usableFromInline var size = 0
    @usableFromInline var digits = 0
    @usableFromInline let maxSizeDigits: Int

    public init(maxSizeDigits: Int = 15) {
        precondition((1...15).contains(maxSizeDigits), "1 to 15 hex digits")
        self.maxSizeDigits = maxSizeDigits
    }

    /// Scans `p[from...]`; returns the index just past the body when it ends there, else nil
    /// (everything up to `p.count` was consumed and the next call resumes at `p.count`). A
    /// chunk's size is announced to `onSize` before its bytes; a throw there stops the scan.
    @inlinable
    public mutating func scan(
        _ p: UnsafeRawBufferPointer,
        from: Int,
        onData: (Range<Int>) -> Void = { _ in },
        onSize: (Int) throws(Malformed) -> Void = { _ in }
    ) throws(Malformed) -> Int? {
        let cr = UInt8(ascii: "\r")
        let lf = UInt8(ascii: "\n")
        var i = from
        while i < p.count {
            let byte = p[i]
            switch state {
            case .size:
                if let value = HexDigit.value(byte) {
                    digits += 1
                    guard digits <= maxSizeDigits else { throw Malformed() }
                    size = size << 4 | Int(value)
                } else if digits > 0
                    && (byte == UInt8(ascii: ";") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t"))
                {
                    state = .sizeExtension
                } else if digits > 0 && byte == cr {
                    state = .sizeLF
                } else {
                    throw Malformed()
                }
            case .sizeExtension:
                if byte == cr {
                    state = .sizeLF
                } else if !Self.isFieldByte(byte) {
                    throw Malformed()
                }
            case .sizeLF:
                guard byte == lf else { throw Malformed() }
                try onSize(size)
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
                guard byte == cr else { throw Malformed() }
                state = .dataLF
            case .dataLF:
                guard byte == lf else { throw Malformed() }
                state = .size
            case .trailerLineStart:
                if byte == cr {
                    state = .finalLF
                } else if Self.isFieldByte(byte) {
                    state = .trailerLine
                } else {
                    throw Malformed()
                }
            case .trailerLine:
                if byte == cr {
                    state = .trailerLF
                } else if !Self.isFieldByte(byte) {
                    throw Malformed()
                }
            case .trailerLF:
                guard byte == lf else { throw Malformed() }
                state = .trailerLineStart
            case .finalLF:
                guard byte == lf else { throw Malformed() }
                state = .size
                return i + 1
            }
            i += 1
        }
        return nil
    }

    /// Visible ASCII, space, tab and obs-text: what a field line or an extension may hold.
    @inlinable
    public static func isFieldByte(_ b: UInt8) -> Bool { b >= 0x20 ? b != 0x7F : b == UInt8(ascii: "\t") }
}
