import HTTPWire
import NIOCore
import NIOHTTP1
import TextFormats

/// Writes the version of a message that crosses the gateway when it cannot go as is: without
/// hop-by-hop headers (and those the Connection header names), with the framing and the
/// Connection header of the hop it goes on. Only used off the fast path.
enum MessageRewriter {
    /// The request for the upstream: HTTP/1.1 (the pool keeps connections alive), the client's
    /// end-to-end headers and body bytes unchanged.
    static func writeRequest(
        _ p: UnsafeRawBufferPointer, head: RequestHead, length: Int, into out: inout ByteBuffer
    ) {
        var i = head.start
        while p[i] != HTTPSyntax.space { i += 1 }
        i += 1
        while p[i] != HTTPSyntax.space { i += 1 }
        out.writeBytes(UnsafeRawBufferPointer(rebasing: p[head.start..<i]))
        out.writeStaticString(" HTTP/1.1\r\n")
        writeEndToEndHeaders(p, from: i + 11, headEnd: head.headEnd, dropFraming: false, into: &out)
        out.writeStaticString("\r\n")
        out.writeBytes(UnsafeRawBufferPointer(rebasing: p[head.headEnd..<length]))
    }

    /// The response for the client. A chunked or close-delimited body is sent with a
    /// Content-Length instead, which also serves HTTP/1.0 clients (they cannot read chunked).
    static func writeResponse(
        _ p: UnsafeRawBufferPointer,
        head: ResponseHead,
        length: Int,
        keepAlive: Bool,
        clientIsHTTP10: Bool,
        into out: inout ByteBuffer
    ) {
        var lineEnd = 9
        while p[lineEnd] != HTTPSyntax.cr { lineEnd += 1 }
        out.writeStaticString("HTTP/1.1")
        out.writeBytes(UnsafeRawBufferPointer(rebasing: p[8..<(lineEnd + 2)]))
        let reframe = head.framing == .chunked || head.framing == .untilClose
        writeEndToEndHeaders(
            p, from: lineEnd + 2, headEnd: head.headEnd, dropFraming: reframe, into: &out)
        if reframe {
            var bodyLength = length - head.headEnd
            if head.framing == .chunked {
                bodyLength = 0
                var scanner = ChunkedBodyScanner()
                _ = try? scanner.scan(p, from: head.headEnd) { bodyLength += $0.count }
            }
            out.writeContentLength(bodyLength)
        }
        out.writeConnectionHeader(keepAlive: keepAlive, clientIsHTTP10: clientIsHTTP10)
        out.writeStaticString("\r\n")
        if head.framing == .chunked {
            out.writeDechunked(p, from: head.headEnd)
        } else {
            out.writeBytes(UnsafeRawBufferPointer(rebasing: p[head.headEnd..<length]))
        }
    }

    /// A response made by the gateway itself (errors, `100 Continue`).
    static func gatewayResponse(
        _ status: HTTPResponseStatus, keepAlive: Bool, clientIsHTTP10: Bool,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        var out = allocator.buffer(capacity: 96)
        out.writeStatusLine(status)
        if status.code >= 200 { out.writeContentLength(0) }
        out.writeConnectionHeader(keepAlive: keepAlive, clientIsHTTP10: clientIsHTTP10)
        out.writeStaticString("\r\n")
        return out
    }

    private static func writeEndToEndHeaders(
        _ p: UnsafeRawBufferPointer,
        from: Int,
        headEnd: Int,
        dropFraming: Bool,
        into out: inout ByteBuffer
    ) {
        // Headers named by Connection are hop-by-hop too (RFC 9110 §7.6.1).
        var named: [Range<Int>] = []
        try? HTTPSyntax.forEachHeader(p, from: from, headEnd: headEnd) { name, value in
            if HTTPSyntax.equalsIgnoringCase(p, name, "connection") {
                HTTPSyntax.forEachListElement(p, value) { named.append($0) }
            }
        }
        try? HTTPSyntax.forEachHeader(p, from: from, headEnd: headEnd) { name, value in
            if HTTPSyntax.isHopByHop(p, name) { return }
            if dropFraming
                && (HTTPSyntax.equalsIgnoringCase(p, name, "content-length")
                    || HTTPSyntax.equalsIgnoringCase(p, name, "transfer-encoding"))
            {
                return
            }
            if named.contains(where: { HTTPSyntax.equalsIgnoringCase(p, name, $0) }) { return }
            var lineEnd = value.upperBound
            while p[lineEnd] != HTTPSyntax.cr { lineEnd += 1 }
            out.writeBytes(UnsafeRawBufferPointer(rebasing: p[name.lowerBound..<(lineEnd + 2)]))
        }
    }
}
