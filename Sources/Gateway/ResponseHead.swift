import HTTPWire

/// What the gateway needs to know about an upstream's response head. Offsets are relative to
/// the start of the upstream connection's unread bytes.
struct ResponseHead: Equatable, Sendable {
    var status: Int
    /// Just past the blank line that ends the head.
    var headEnd: Int
    /// Whether the upstream connection can carry another request after this response.
    var upstreamKeepAlive: Bool
    /// The head carries hop-by-hop headers or an HTTP/1.0 status line: rewrite before forwarding.
    var needsRewrite: Bool
    var framing: BodyFraming
}

extension ResponseHead {
    /// Parses `p[0..<headEnd]`. `requestWasHead` is needed because a HEAD answer has no body
    /// whatever its headers say.
    static func parse(_ p: UnsafeRawBufferPointer, headEnd: Int, requestWasHead: Bool)
        throws(SyntaxError) -> ResponseHead
    {
        // Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF
        guard headEnd >= 14, p[0] == UInt8(ascii: "H"), p[1] == UInt8(ascii: "T"),
            p[2] == UInt8(ascii: "T"),
            p[3] == UInt8(ascii: "P"), p[4] == UInt8(ascii: "/"), p[5] == UInt8(ascii: "1"),
            p[6] == UInt8(ascii: "."),
            p[7] == UInt8(ascii: "0") || p[7] == UInt8(ascii: "1"), p[8] == HTTPSyntax.space
        else { throw .malformed }
        let isHTTP10 = p[7] == UInt8(ascii: "0")
        var status = 0
        for index in 9..<12 {
            let digit = p[index] &- UInt8(ascii: "0")
            guard digit < 10 else { throw .malformed }
            status = status * 10 + Int(digit)
        }
        guard status >= 100, p[12] == HTTPSyntax.space || p[12] == HTTPSyntax.cr else {
            throw .malformed
        }
        var i = 12
        while p[i] != HTTPSyntax.cr {
            guard HTTPSyntax.isFieldValueByte(p[i]) else { throw .malformed }
            i += 1
        }
        guard p[i + 1] == HTTPSyntax.lf else { throw .malformed }

        var contentLength: Int?
        var transferEncoding: Range<Int>?
        var connectionClose = false
        var connectionKeepAlive = false
        var needsRewrite = isHTTP10
        try HTTPSyntax.forEachHeader(p, from: i + 2, headEnd: headEnd) {
            name, value throws(SyntaxError) in
            switch name.count {
            case 14 where HTTPSyntax.equalsIgnoringCase(p, name, "content-length"):
                guard let length = HTTPSyntax.parseContentLength(p, value),
                    contentLength == nil || contentLength == length
                else { throw .malformed }
                contentLength = length
            case 17 where HTTPSyntax.equalsIgnoringCase(p, name, "transfer-encoding"):
                guard transferEncoding == nil else { throw .malformed }
                transferEncoding = value
            default:
                guard HTTPSyntax.isHopByHop(p, name) else { return }
                needsRewrite = true
                if HTTPSyntax.equalsIgnoringCase(p, name, "connection") {
                    HTTPSyntax.noteConnectionOptions(p, value, close: &connectionClose, keepAlive: &connectionKeepAlive)
                }
            }
        }

        var framing: BodyFraming
        if requestWasHead || status < 200 || status == 204 || status == 304 {
            framing = .none
        } else if let transferEncoding {
            // Only a final "chunked" delimits the body; any other coding runs to the close.
            var lastIsChunked = false
            HTTPSyntax.forEachListElement(p, transferEncoding) { coding in
                lastIsChunked = HTTPSyntax.equalsIgnoringCase(p, coding, "chunked")
            }
            framing = lastIsChunked ? .chunked : .untilClose
            // The body is forwarded de-chunked with a Content-Length, so the head is rewritten.
            needsRewrite = true
        } else if let contentLength {
            framing = contentLength == 0 ? .none : .length(contentLength)
        } else {
            framing = .untilClose
            needsRewrite = true
        }
        let keepAlive = isHTTP10 ? connectionKeepAlive && !connectionClose : !connectionClose
        return ResponseHead(
            status: status,
            headEnd: headEnd,
            upstreamKeepAlive: keepAlive && framing != .untilClose,
            needsRewrite: needsRewrite,
            framing: framing
        )
    }
}
