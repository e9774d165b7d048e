/// Byte-level HTTP/1.1 syntax shared by the request and response framers (the gateway's and the
/// API's HTTP server's).
///
/// The gateway parses heads by hand instead of with NIOHTTP1's `HTTPRequestDecoder`: a proxy
/// only needs the framing (length, chunked, keep-alive) and the hop-by-hop headers, and can then
/// forward the client's bytes as they came (a `ByteBuffer` slice, no copy). The decoder would build
/// an `HTTPRequestHead` with a `String` per header and the encoder would write them all out again
/// on every request. Parsing is strict (CRLF line ends, no obs-fold, no whitespace before the
/// colon), so the upstream's parser can never see a different message than we did.
public enum HTTPSyntax {
    public static let cr: UInt8 = 13
    public static let lf: UInt8 = 10
    public static let space: UInt8 = 32
    public static let tab: UInt8 = 9
    public static let colon: UInt8 = 58

    /// RFC 9110 `tchar` (``!#$%&'*+-.^_`|~``, digits, letters) as a 128-bit mask over ASCII.
    /// Literals rather than a computed `static let`, which would cost a `swift_once` per byte.
    @usableFromInline static var tcharLow: UInt64 { 0x03FF_6CFA_0000_0000 }
    @usableFromInline static var tcharHigh: UInt64 { 0x57FF_FFFF_C7FF_FFFE }

    @inlinable @inline(__always)
    public static func isTchar(_ byte: UInt8) -> Bool {
        byte < 64
            ? tcharLow & (1 << UInt64(byte)) != 0
            : byte < 128 && tcharHigh & (1 << UInt64(byte - 64)) != 0
    }

    /// A field-value byte: visible ASCII, space, tab or obs-text; never CR, LF, NUL or DEL.
    @inlinable @inline(__always)
    public static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte >= 0x20 ? byte != 0x7F : byte == tab
    }

    @inlinable @inline(__always)
    public static func lowercased(_ byte: UInt8) -> UInt8 {
        byte &- 65 < 26 ? byte | 0x20 : byte
    }

    /// Whether `p[range]` equals the lowercase ASCII `literal`, ignoring case.
    public static func equalsIgnoringCase(
        _ p: UnsafeRawBufferPointer, _ range: Range<Int>, _ literal: StaticString
    ) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        let l = literal.utf8Start
        var i = 0
        for index in range {
            if lowercased(p[index]) != l[i] { return false }
            i += 1
        }
        return true
    }

    public static func equalsIgnoringCase(_ p: UnsafeRawBufferPointer, _ a: Range<Int>, _ b: Range<Int>)
        -> Bool
    {
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) where lowercased(p[x]) != lowercased(p[y]) { return false }
        return true
    }

    /// Finds the end of a head: the index just past its blank line, or nil if not there yet.
    /// `scanned` is where the previous call stopped, so a slow client costs linear time in total.
    /// A LF not preceded by CR is malformed.
    public static func findHeadEnd(_ p: UnsafeRawBufferPointer, start: Int, scanned: inout Int)
        throws(SyntaxError) -> Int?
    {
        var i = max(scanned, start)
        while i < p.count {
            if p[i] == lf {
                if i == start || p[i - 1] != cr { throw .malformed }
                // "\r\n" right after a previous line end (or at the start: an empty head) ends it.
                if i - start >= 3 && p[i - 2] == lf { return i + 1 }
                if i - start == 1 { throw .malformed }
            }
            i += 1
        }
        scanned = i
        return nil
    }

    /// Calls `body(name, value)` for each header line of `p[from..<headEnd]`, where `from` is the
    /// start of the first header line and `headEnd` is past the blank line. The value is trimmed
    /// of surrounding whitespace. Throws on obs-fold, a bad name or a control byte in a value.
    public static func forEachHeader(
        _ p: UnsafeRawBufferPointer,
        from: Int,
        headEnd: Int,
        _ body: (_ name: Range<Int>, _ value: Range<Int>) throws(SyntaxError) -> Void
    ) throws(SyntaxError) {
        var lineStart = from
        let end = headEnd - 2  // the blank line's CRLF
        while lineStart < end {
            var i = lineStart
            while i < end, isTchar(p[i]) { i += 1 }
            // No name, or whitespace/other byte before the colon (obs-fold starts with whitespace).
            guard i > lineStart, i < end, p[i] == colon else { throw .malformed }
            let name = lineStart..<i
            i += 1
            while i < end, p[i] == space || p[i] == tab { i += 1 }
            let valueStart = i
            var valueEnd = i
            while p[i] != cr {
                guard isFieldValueByte(p[i]) else { throw .malformed }
                if p[i] != space && p[i] != tab { valueEnd = i + 1 }
                i += 1
            }
            guard p[i + 1] == lf else { throw .malformed }  // a bare CR inside the line
            try body(name, valueStart..<valueEnd)
            lineStart = i + 2
        }
    }

    /// Calls `body` with each comma-separated, trimmed, non-empty element of `p[range]`.
    public static func forEachListElement(
        _ p: UnsafeRawBufferPointer, _ range: Range<Int>, _ body: (Range<Int>) -> Void
    ) {
        var i = range.lowerBound
        while i < range.upperBound {
            while i < range.upperBound, p[i] == space || p[i] == tab || p[i] == UInt8(ascii: ",") {
                i += 1
            }
            let start = i
            var end = i
            while i < range.upperBound, p[i] != UInt8(ascii: ",") {
                if p[i] != space && p[i] != tab { end = i + 1 }
                i += 1
            }
            if end > start { body(start..<end) }
        }
    }

    /// Notes the `close` and `keep-alive` options a Connection header's value `p[value]` names
    /// (a message may carry several such headers: each one only sets what it names).
    public static func noteConnectionOptions(
        _ p: UnsafeRawBufferPointer, _ value: Range<Int>, close: inout Bool, keepAlive: inout Bool
    ) {
        forEachListElement(p, value) { token in
            if equalsIgnoringCase(p, token, "close") { close = true }
            if equalsIgnoringCase(p, token, "keep-alive") { keepAlive = true }
        }
    }

    /// A Content-Length value: 1 to 18 digits, nothing else (no sign, no list).
    public static func parseContentLength(_ p: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        guard !range.isEmpty, range.count <= 18 else { return nil }
        var value = 0
        for index in range {
            let digit = p[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            value = value * 10 + Int(digit)
        }
        return value
    }

    /// Headers a proxy must not forward (RFC 9110 §7.6.1), plus the ones the gateway handles
    /// itself. Transfer-Encoding and Content-Length are framing and handled separately.
    public static func isHopByHop(_ p: UnsafeRawBufferPointer, _ name: Range<Int>) -> Bool {
        switch name.count {
        case 2: return equalsIgnoringCase(p, name, "te")
        case 6: return equalsIgnoringCase(p, name, "expect")
        case 7: return equalsIgnoringCase(p, name, "trailer") || equalsIgnoringCase(p, name, "upgrade")
        case 10:
            return equalsIgnoringCase(p, name, "connection") || equalsIgnoringCase(p, name, "keep-alive")
        case 16: return equalsIgnoringCase(p, name, "proxy-connection")
        case 18: return equalsIgnoringCase(p, name, "proxy-authenticate")
        case 19: return equalsIgnoringCase(p, name, "proxy-authorization")
        default: return false
        }
    }
}

/// A syntax error in a head or a chunked body.
public enum SyntaxError: Error, Equatable {
    case malformed
}

/// How a message's body is delimited.
public enum BodyFraming: Equatable, Sendable {
    case none
    /// Exactly this many bytes.
    case length(Int)
    case chunked
    /// Until the sender closes the connection (responses only).
    case untilClose
}
