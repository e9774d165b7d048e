/// A processor's answer: as much of an HTTP/1.1 response as the worker uses.
struct ProcessorResponse: Equatable, Sendable {
    var status: Int
    /// The body's bytes, with any chunked framing removed.
    var body: [UInt8]
    /// Whether the connection may carry another request after this response.
    var keepAlive: Bool
}

/// Delimits one HTTP/1.1 response in the bytes a processor sent, incrementally and strictly.
///
/// `parse` is always given every byte received since the response began (the caller
/// accumulates them); the framer remembers how far it scanned, so each byte is looked at once.
/// Bodies are framed by `Content-Length` or `Transfer-Encoding: chunked` (what Kestrel sends), or
/// run until the close. Anything outside RFC 9112's grammar (bare LF, obs-fold, a bad length,
/// `Content-Length` beside `Transfer-Encoding`, a coding other than chunked) is `malformed`: after
/// a request was written that leaves the payment's outcome unknown, never guessed.
struct ProcessorResponseFramer {
    enum Outcome: Equatable {
        case incomplete
        /// The response and how many of the given bytes it took (interim responses included).
        case complete(ProcessorResponse, consumed: Int)
        case malformed
    }

    static let maxHeadBytes = 8 * 1024
    static let maxBodyBytes = 64 * 1024

    private enum Phase {
        /// Looking for the end of the head that starts at `start`.
        case head(start: Int, scanned: Int)
        case length(Head, bodyStart: Int, length: Int)
        case chunked(Head, ChunkedBodyDecoder, scanned: Int)
        case untilClose(Head, bodyStart: Int)
    }

    struct Head: Equatable {
        var status: Int
        var keepAlive: Bool
        var framing: Framing
    }

    enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
        case untilClose
    }

    private var phase = Phase.head(start: 0, scanned: 0)

    mutating func parse(_ p: UnsafeRawBufferPointer) -> Outcome {
        switch phase {
        case .head(let start, let scanned):
            let found: Int?
            do {
                found = try Self.findHeadEnd(p, start: start, from: max(start, scanned - 1))
            } catch {
                return .malformed
            }
            guard let headEnd = found else {
                if p.count - start > Self.maxHeadBytes { return .malformed }
                phase = .head(start: start, scanned: p.count)
                return .incomplete
            }
            guard headEnd - start <= Self.maxHeadBytes, let head = Self.parseHead(p, start: start, end: headEnd)
            else { return .malformed }
            switch head.framing {
            case .none:
                if head.status < 200 {
                    // 100 Continue or 103 Early Hints: the real answer follows.
                    phase = .head(start: headEnd, scanned: headEnd)
                    return parse(p)
                }
                return complete(head, body: [], consumed: headEnd)
            case .length(let n):
                phase = .length(head, bodyStart: headEnd, length: n)
            case .chunked:
                phase = .chunked(head, ChunkedBodyDecoder(), scanned: headEnd)
            case .untilClose:
                phase = .untilClose(head, bodyStart: headEnd)
            }
            return parse(p)

        case .length(let head, let bodyStart, let length):
            guard p.count >= bodyStart + length else { return .incomplete }
            return complete(head, body: Array(p[bodyStart..<(bodyStart + length)]), consumed: bodyStart + length)

        case .chunked(let head, var decoder, let scanned):
            switch decoder.decode(p, from: scanned) {
            case .malformed: return .malformed
            case .needMore:
                phase = .chunked(head, decoder, scanned: p.count)
                return .incomplete
            case .end(let end): return complete(head, body: decoder.body, consumed: end)
            }

        case .untilClose(_, let bodyStart):
            return p.count - bodyStart > Self.maxBodyBytes ? .malformed : .incomplete
        }
    }

    /// The peer closed after sending `p`: only a response that runs until the close is complete.
    func finish(_ p: UnsafeRawBufferPointer) -> Outcome {
        guard case .untilClose(let head, let bodyStart) = phase else { return .malformed }
        return .complete(
            ProcessorResponse(status: head.status, body: Array(p[bodyStart...]), keepAlive: false), consumed: p.count)
    }

    private mutating func complete(_ head: Head, body: [UInt8], consumed: Int) -> Outcome {
        phase = .head(start: 0, scanned: 0)
        return .complete(
            ProcessorResponse(status: head.status, body: body, keepAlive: head.keepAlive), consumed: consumed)
    }

    // MARK: The head

    struct BareLineBreak: Error {}

    /// The index just past the CRLFCRLF that ends the head starting at `start`, if it is in `p`.
    /// A CR without LF or an LF without CR throws as soon as it is seen, not when the head ends
    /// (which such an answer may never do).
    static func findHeadEnd(_ p: UnsafeRawBufferPointer, start: Int, from: Int) throws(BareLineBreak) -> Int? {
        var i = from
        while i < p.count {
            if p[i] == lf {
                guard i > start && p[i - 1] == cr else { throw BareLineBreak() }
                if i - 3 >= start && p[i - 3] == cr && p[i - 2] == lf { return i + 1 }
            } else if p[i] == cr && i + 1 < p.count && p[i + 1] != lf {
                throw BareLineBreak()
            }
            i += 1
        }
        return nil
    }

    /// Parses the head in `p[start..<end]` (`end` just past its CRLFCRLF).
    static func parseHead(_ p: UnsafeRawBufferPointer, start: Int, end: Int) -> Head? {
        var lineStart = start
        var status = 0
        var http10 = false
        var contentLength: Int?
        var chunked = false
        var close = false
        var keepAliveToken = false
        var first = true
        while lineStart < end - 2 {
            var lineEnd = lineStart
            while p[lineEnd] != cr {
                // A bare LF, or a NUL or other control byte, is outside the grammar.
                if p[lineEnd] == lf || (p[lineEnd] < 0x20 && p[lineEnd] != tab) || p[lineEnd] == 0x7F { return nil }
                lineEnd += 1
            }
            guard p[lineEnd + 1] == lf else { return nil }
            let line = UnsafeRawBufferPointer(rebasing: p[lineStart..<lineEnd])
            if first {
                guard let (code, isHTTP10) = parseStatusLine(line) else { return nil }
                status = code
                http10 = isHTTP10
                first = false
            } else {
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0,
                    line[..<colon].allSatisfy(isTokenByte)
                else { return nil }
                let name = UnsafeRawBufferPointer(rebasing: line[..<colon])
                let value = trimmed(UnsafeRawBufferPointer(rebasing: line[(colon + 1)...]))
                if equalsLowercase(name, "content-length") {
                    guard let n = parseLength(value), contentLength == nil || contentLength == n else { return nil }
                    contentLength = n
                } else if equalsLowercase(name, "transfer-encoding") {
                    // Only chunked is asked for (no Accept-Encoding is sent), and only once.
                    guard !chunked, equalsLowercase(value, "chunked") else { return nil }
                    chunked = true
                } else if equalsLowercase(name, "connection") {
                    for token in value.split(separator: UInt8(ascii: ",")) {
                        let t = trimmed(UnsafeRawBufferPointer(rebasing: token))
                        if equalsLowercase(t, "close") { close = true }
                        if equalsLowercase(t, "keep-alive") { keepAliveToken = true }
                    }
                }
            }
            lineStart = lineEnd + 2
        }
        guard !first else { return nil }
        // Both framings at once is how request smuggling starts; a processor never sends it.
        if chunked && contentLength != nil { return nil }
        var keepAlive = http10 ? keepAliveToken && !close : !close
        let framing: Framing
        if status < 200 {
            // 101 would switch protocols, which was not asked for.
            guard status != 101 else { return nil }
            framing = .none
        } else if status == 204 || status == 304 {
            framing = .none
        } else if chunked {
            framing = .chunked
        } else if let contentLength {
            guard contentLength <= maxBodyBytes else { return nil }
            framing = contentLength == 0 ? .none : .length(contentLength)
        } else {
            framing = .untilClose
            keepAlive = false
        }
        return Head(status: status, keepAlive: keepAlive, framing: framing)
    }

    /// `HTTP/1.1 200 OK` -> (200, false). The reason phrase may be empty or absent.
    static func parseStatusLine(_ line: UnsafeRawBufferPointer) -> (Int, Bool)? {
        guard line.count >= 12, line.starts(with: "HTTP/1.".utf8),
            line[7] == UInt8(ascii: "1") || line[7] == UInt8(ascii: "0"), line[8] == space
        else { return nil }
        var code = 0
        for i in 9..<12 {
            guard isDigit(line[i]) else { return nil }
            code = code * 10 + Int(line[i] - UInt8(ascii: "0"))
        }
        guard code >= 100 && code <= 599 else { return nil }
        if line.count > 12 && line[12] != space { return nil }
        return (code, line[7] == UInt8(ascii: "0"))
    }

    static func parseLength(_ value: UnsafeRawBufferPointer) -> Int? {
        guard !value.isEmpty, value.count <= 9, value.allSatisfy(isDigit) else { return nil }
        return value.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    static func trimmed(_ v: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var lo = 0
        var hi = v.count
        while lo < hi && (v[lo] == space || v[lo] == tab) { lo += 1 }
        while hi > lo && (v[hi - 1] == space || v[hi - 1] == tab) { hi -= 1 }
        return UnsafeRawBufferPointer(rebasing: v[lo..<hi])
    }

    static func equalsLowercase(_ v: UnsafeRawBufferPointer, _ lower: StaticString) -> Bool {
        guard v.count == lower.utf8CodeUnitCount else { return false }
        let l = UnsafeRawBufferPointer(start: lower.utf8Start, count: lower.utf8CodeUnitCount)
        for i in 0..<v.count {
            let b = v[i]
            let folded = b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") ? b + 32 : b
            if folded != l[i] { return false }
        }
        return true
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    /// RFC 9110 tchar.
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }
}

private let cr = HTTPBytes.cr
private let lf = HTTPBytes.lf
private let space = UInt8(ascii: " ")
private let tab = HTTPBytes.tab

/// Bytes of HTTP/1.1's syntax.
enum HTTPBytes {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let tab = UInt8(ascii: "\t")
}
