import NIOCore
import Testing

@testable import Gateway
@testable import HTTPWire

func frameResponse(_ text: String, requestWasHead: Bool = false) -> ResponseFramer.Outcome {
    var framer = ResponseFramer(maxResponseBytes: 1 << 20)
    return Array(text.utf8).withUnsafeBytes { framer.parse($0, requestWasHead: requestWasHead) }
}

func rewriteRequest(_ text: String) throws -> String {
    let bytes = Array(text.utf8)
    var framer = RequestFramer(maxHeaderBytes: 8192, maxBodyBytes: 1 << 20)
    guard case .complete(let head, let length) = bytes.withUnsafeBytes({ framer.parse($0) }) else {
        throw SyntaxError.malformed
    }
    var out = ByteBuffer()
    bytes.withUnsafeBytes { MessageRewriter.writeRequest($0, head: head, length: length, into: &out) }
    return String(buffer: out)
}

func rewriteResponse(_ text: String, keepAlive: Bool, http10: Bool, requestWasHead: Bool = false)
    throws -> String
{
    let bytes = Array(text.utf8)
    var framer = ResponseFramer(maxResponseBytes: 1 << 20)
    var outcome = bytes.withUnsafeBytes { framer.parse($0, requestWasHead: requestWasHead) }
    if case .incomplete = outcome { outcome = bytes.withUnsafeBytes { framer.finish($0) } }
    guard case .complete(let head, let length) = outcome else { throw SyntaxError.malformed }
    var out = ByteBuffer()
    bytes.withUnsafeBytes {
        MessageRewriter.writeResponse(
            $0, head: head, length: length, keepAlive: keepAlive, clientIsHTTP10: http10, into: &out)
    }
    return String(buffer: out)
}

@Suite("Response framing and message rewriting, without sockets")
struct ResponseAndRewriteTests {
    @Test("a Content-Length response is framed and reusable")
    func contentLength() throws {
        let text = "HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\nok"
        guard case .complete(let head, let length) = frameResponse(text + "extra") else {
            Issue.record("not complete")
            return
        }
        #expect(
            length == text.utf8.count && head.status == 202 && head.upstreamKeepAlive
                && !head.needsRewrite)
    }

    @Test("HEAD, 204 and 304 answers have no body whatever their headers say")
    func noBody() {
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n"
        if case .complete(_, let length) = frameResponse(head, requestWasHead: true) {
            #expect(length == head.utf8.count)
        } else {
            Issue.record("HEAD answer not complete")
        }
        let noContent = "HTTP/1.1 204 No Content\r\n\r\n"
        if case .complete(_, let length) = frameResponse(noContent) {
            #expect(length == noContent.utf8.count)
        } else {
            Issue.record("204 not complete")
        }
    }

    @Test("1xx answers are reported as interim")
    func interim() {
        #expect(
            frameResponse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n") == .interim(length: 25))
        #expect(frameResponse("HTTP/1.1 101 Switching Protocols\r\n\r\n") == .failed)
    }

    @Test("a response without length runs until the close and ends the upstream connection")
    func untilClose() throws {
        #expect(frameResponse("HTTP/1.1 200 OK\r\n\r\nabc") == .incomplete)
        let out = try rewriteResponse(
            "HTTP/1.1 200 OK\r\nX: 1\r\n\r\nabc", keepAlive: true, http10: false)
        #expect(out == "HTTP/1.1 200 OK\r\nX: 1\r\ncontent-length: 3\r\n\r\nabc")
    }

    @Test(
        "broken upstream answers are refused",
        arguments: [
            "HTTP/1.1 2x0 OK\r\n\r\n", "HTTX/1.1 200 OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nbad header\r\n\r\n", "HTTP/1.1 200 OK\ncontent-length: 0\n\n",
        ])
    func broken(text: String) {
        #expect(frameResponse(text) == .failed)
    }

    @Test("a request's hop-by-hop headers, and those Connection names, are not forwarded")
    func requestHopByHop() throws {
        let out = try rewriteRequest(
            "GET /x?y=1 HTTP/1.1\r\nHost: h\r\nConnection: close, X-Secret\r\nX-Secret: s\r\nKeep-Alive: 5\r\n"
                + "TE: trailers\r\nUpgrade: websocket\r\nProxy-Authorization: p\r\nX-Keep: k\r\n\r\n")
        #expect(out == "GET /x?y=1 HTTP/1.1\r\nHost: h\r\nX-Keep: k\r\n\r\n")
    }

    @Test("an HTTP/1.0 request goes upstream as HTTP/1.1 with its body unchanged")
    func requestVersion() throws {
        let out = try rewriteRequest(
            "POST /p HTTP/1.0\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n{}")
        #expect(out == "POST /p HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
    }

    @Test("Expect is answered by the gateway, so it is not forwarded")
    func requestExpect() throws {
        let out = try rewriteRequest(
            "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\na")
        #expect(out == "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\na")
    }

    @Test(
        "a chunked response reaches an HTTP/1.0 client de-chunked, with the right Connection header")
    func responseDechunked() throws {
        let text =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: 1\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        #expect(
            try rewriteResponse(text, keepAlive: true, http10: true)
                == "HTTP/1.1 200 OK\r\nX: 1\r\ncontent-length: 11\r\nconnection: keep-alive\r\n\r\nhello world"
        )
        #expect(
            try rewriteResponse(text, keepAlive: false, http10: false)
                == "HTTP/1.1 200 OK\r\nX: 1\r\ncontent-length: 11\r\nconnection: close\r\n\r\nhello world")
    }

    @Test("a response's hop-by-hop headers are dropped and an HTTP/1.0 status line is upgraded")
    func responseHopByHop() throws {
        let text =
            "HTTP/1.0 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok"
        #expect(
            try rewriteResponse(text, keepAlive: true, http10: false)
                == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    }

    @Test("gateway errors are complete, tiny responses")
    func gatewayResponses() {
        let allocator = ByteBufferAllocator()
        #expect(
            String(
                buffer: MessageRewriter.gatewayResponse(
                    .badGateway, keepAlive: true, clientIsHTTP10: false, allocator: allocator))
                == "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
        #expect(
            String(
                buffer: MessageRewriter.gatewayResponse(
                    .badRequest, keepAlive: false, clientIsHTTP10: false, allocator: allocator))
                == "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        #expect(
            String(
                buffer: MessageRewriter.gatewayResponse(
                    .continue, keepAlive: true, clientIsHTTP10: false, allocator: allocator))
                == "HTTP/1.1 100 Continue\r\n\r\n")
    }
}
