import NIOHTTP1

/// What a proxy or a small server needs to know about a parsed request head. Offsets are
/// relative to the start of the client's unread bytes.
public struct RequestHead: Equatable, Sendable {
    /// Where the request line starts (empty lines before it are skipped, RFC 9112 §2.2).
    public var start: Int
    /// Just past the blank line that ends the head.
    public var headEnd: Int
    public var isHTTP10: Bool
    /// A HEAD request: its answer has no body whatever its Content-Length says.
    public var isHeadMethod: Bool
    /// Whether the client wants the connection kept open after the answer.
    public var keepAlive: Bool
    /// HTTP/1.1 `Expect: 100-continue`: the server or proxy answers 100 itself, since it buffers
    /// bodies.
    public var expectContinue: Bool
    /// The head carries something that must not go upstream as is (hop-by-hop headers, HTTP/1.0).
    public var needsRewrite: Bool
    public var framing: BodyFraming
    /// Where the method is (`p[method]`), for a server that dispatches on it.
    public var method: Range<Int> = 0..<0
    /// Where the request-target is (`p[target]`): path and query, as sent.
    public var target: Range<Int> = 0..<0
}

/// Why a request is refused. The client gets `status` and the connection is closed, since
/// after a framing error the position of the next request is unknown.
public enum RequestError: Error, Equatable, Sendable {
    case malformed
    case headerTooLarge
    case bodyTooLarge
    case expectationFailed
    case unsupportedTransferCoding

    public var status: HTTPResponseStatus {
        switch self {
        case .malformed: .badRequest
        case .headerTooLarge: .requestHeaderFieldsTooLarge
        case .bodyTooLarge: .payloadTooLarge
        case .expectationFailed: .expectationFailed
        case .unsupportedTransferCoding: .notImplemented
        }
    }
}

extension RequestHead {
    /// Parses and validates `p[start..<headEnd]`, which `HTTPSyntax.findHeadEnd` delimited.
    public static func parse(_ p: UnsafeRawBufferPointer, start: Int, headEnd: Int) throws(RequestError)
        -> RequestHead
    {
        // Request line: method SP request-target SP HTTP/1.x CRLF
        var i = start
        while isTchar(p[i]) { i += 1 }
        guard i > start, p[i] == HTTPSyntax.space else { throw .malformed }
        // Methods are case-sensitive: only "HEAD" is HEAD.
        let isHeadMethod =
            i - start == 4 && p[start] == UInt8(ascii: "H") && p[start + 1] == UInt8(ascii: "E")
            && p[start + 2] == UInt8(ascii: "A") && p[start + 3] == UInt8(ascii: "D")
        i += 1
        let targetStart = i
        while p[i] > 0x20 && p[i] != 0x7F { i += 1 }
        guard i > targetStart, p[i] == HTTPSyntax.space, i + 10 <= headEnd else { throw .malformed }
        let targetEnd = i
        i += 1
        guard p[i] == UInt8(ascii: "H"), p[i + 1] == UInt8(ascii: "T"), p[i + 2] == UInt8(ascii: "T"),
            p[i + 3] == UInt8(ascii: "P"), p[i + 4] == UInt8(ascii: "/"), p[i + 5] == UInt8(ascii: "1"),
            p[i + 6] == UInt8(ascii: "."), p[i + 7] == UInt8(ascii: "0") || p[i + 7] == UInt8(ascii: "1"),
            p[i + 8] == HTTPSyntax.cr, p[i + 9] == HTTPSyntax.lf
        else { throw .malformed }
        let isHTTP10 = p[i + 7] == UInt8(ascii: "0")

        var contentLength: Int?
        var chunked = false
        var transferEncodingSeen = false
        var hostCount = 0
        var connectionClose = false
        var connectionKeepAlive = false
        var expectContinue = false
        var needsRewrite = isHTTP10
        var failure: RequestError?
        do {
            try HTTPSyntax.forEachHeader(p, from: i + 10, headEnd: headEnd) {
                name, value throws(SyntaxError) in
                switch name.count {
                case 4 where HTTPSyntax.equalsIgnoringCase(p, name, "host"):
                    hostCount += 1
                case 14 where HTTPSyntax.equalsIgnoringCase(p, name, "content-length"):
                    // Two Content-Lengths, equal or not, are refused: RFC 9112 §6.3 allows it and
                    // it leaves no room for the upstream to pick a different one.
                    guard contentLength == nil, let length = HTTPSyntax.parseContentLength(p, value) else {
                        throw .malformed
                    }
                    contentLength = length
                case 17 where HTTPSyntax.equalsIgnoringCase(p, name, "transfer-encoding"):
                    guard !transferEncodingSeen else { throw .malformed }
                    transferEncodingSeen = true
                    if HTTPSyntax.equalsIgnoringCase(p, value, "chunked") {
                        chunked = true
                    } else {
                        failure = .unsupportedTransferCoding
                    }
                default:
                    guard HTTPSyntax.isHopByHop(p, name) else { return }
                    needsRewrite = true
                    if HTTPSyntax.equalsIgnoringCase(p, name, "connection") {
                        HTTPSyntax.noteConnectionOptions(
                            p, value, close: &connectionClose, keepAlive: &connectionKeepAlive)
                    } else if HTTPSyntax.equalsIgnoringCase(p, name, "expect") {
                        // HTTP/1.0 clients' expectations are ignored (RFC 9110 §10.1.1).
                        if isHTTP10 { return }
                        guard HTTPSyntax.equalsIgnoringCase(p, value, "100-continue") else {
                            failure = failure ?? .expectationFailed
                            return
                        }
                        expectContinue = true
                    }
                }
            }
        } catch {
            throw .malformed
        }
        // Both framings at once is the classic smuggling vector: refuse rather than pick one.
        if transferEncodingSeen && contentLength != nil { throw .malformed }
        if transferEncodingSeen && isHTTP10 { throw .malformed }
        if isHTTP10 ? hostCount > 1 : hostCount != 1 { throw .malformed }
        if let failure { throw failure }

        let framing: BodyFraming
        if chunked {
            framing = .chunked
        } else if let contentLength, contentLength > 0 {
            framing = .length(contentLength)
        } else {
            framing = .none
        }
        return RequestHead(
            start: start,
            headEnd: headEnd,
            isHTTP10: isHTTP10,
            isHeadMethod: isHeadMethod,
            keepAlive: isHTTP10 ? connectionKeepAlive && !connectionClose : !connectionClose,
            expectContinue: expectContinue && framing != .none,
            needsRewrite: needsRewrite,
            framing: framing,
            method: start..<(targetStart - 1),
            target: targetStart..<targetEnd
        )
    }

    @inline(__always)
    private static func isTchar(_ byte: UInt8) -> Bool { HTTPSyntax.isTchar(byte) }
}
