import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import HTTPServerKit

/// A server connection over an embedded channel: the application answers from `answers` (by
/// path), or holds the answer until `release` when the path is `/held`.
/// Embedded channels run on the test's own thread: nothing here is shared across threads.
final class EmbeddedServerConnection: @unchecked Sendable {
    let loop = EmbeddedEventLoop()
    let channel: EmbeddedChannel
    var received: [HTTPServerRequest] = []
    var held: [HTTPResponder] = []

    init(maxHeaderBytes: Int = 1024, maxBodyBytes: Int = 64) throws {
        channel = EmbeddedChannel(loop: loop)
        let handler = HTTPConnectionHandler(maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes) {
            [unowned self] request, responder in
            received.append(request)
            if request.path == "/held" {
                held.append(responder)
                return
            }
            responder(.json(.ok, #"{"path":"\#(request.path)"}"#))
        }
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    }

    func send(_ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
        loop.run()
    }

    func release(_ response: HTTPServerResponse = HTTPServerResponse(status: .accepted)) {
        held.removeFirst()(response)
        loop.run()
    }

    func output() throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }
}

@Suite("HTTP server connection over an embedded channel, exact bytes")
struct HTTPConnectionHandlerTests {
    @Test("a request in one read is answered in one write, with its body and target")
    func oneRequest() throws {
        let c = try EmbeddedServerConnection()
        try c.send("POST /payments?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
        #expect(
            try c.output()
                == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 20\r\n\r\n{\"path\":\"/payments\"}"
        )
        let request = try #require(c.received.first)
        #expect(request.method == .POST)
        #expect(request.path == "/payments")
        #expect(request.rawQuery == "x=1")
        #expect(String(buffer: request.body) == "hello")
        #expect(c.channel.isActive)
    }

    @Test("a request split over many reads is framed once it is whole")
    func byteByByte() throws {
        let c = try EmbeddedServerConnection()
        for byte in "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc".utf8 {
            #expect(c.received.isEmpty)
            try c.channel.writeInbound(ByteBuffer(bytes: [byte]))
        }
        c.loop.run()
        #expect(c.received.count == 1)
        #expect(String(buffer: c.received[0].body) == "abc")
    }

    @Test("pipelined requests are answered one at a time, in order, the second after the first's answer")
    func pipelined() throws {
        let c = try EmbeddedServerConnection()
        try c.send("GET /held HTTP/1.1\r\nHost: a\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(c.received.map(\.path) == ["/held"])
        #expect(try c.output() == "")
        c.release()
        #expect(c.received.map(\.path) == ["/held", "/second"])
        let out = try c.output()
        #expect(out.hasPrefix("HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\nHTTP/1.1 200 OK\r\n"))
    }

    @Test("many pipelined requests answered at once stay in order (no recursion per request)")
    func manyPipelined() throws {
        let c = try EmbeddedServerConnection(maxHeaderBytes: 1 << 20)
        let count = 5_000
        try c.send(String(repeating: "GET /n HTTP/1.1\r\nHost: a\r\n\r\n", count: count))
        #expect(c.received.count == count)
        #expect(try c.output().components(separatedBy: "HTTP/1.1 200 OK").count == count + 1)
    }

    @Test("a chunked body is decoded")
    func chunked() throws {
        let c = try EmbeddedServerConnection()
        try c.send(
            "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n")
        #expect(String(buffer: try #require(c.received.first).body) == "abcde")
    }

    @Test(
        "bad input gets its status with a JSON error and the connection closes; the application never sees it",
        arguments: [
            ("GARBAGE\r\n\r\n", 400),
            ("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 65\r\n\r\n", 413),
            (
                "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n"
                    + String(repeating: "x", count: 65), 413
            ),
            ("GET /p HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "x", count: 1100) + "\r\n\r\n", 431),
            ("GET /p HTTP/1.1\r\n\r\n", 400),  // no Host
            ("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        ])
    func refused(request: String, status: Int) throws {
        let c = try EmbeddedServerConnection()
        try c.send(request)
        let out = try c.output()
        #expect(out.hasPrefix("HTTP/1.1 \(status) "), "\(out)")
        #expect(out.contains("connection: close\r\n"))
        #expect(out.contains(#"{"error":""#))
        #expect(c.received.isEmpty)
        #expect(!c.channel.isActive)
    }

    @Test("Connection: close and HTTP/1.0 end the connection after the answer; HTTP/1.0 keep-alive is said back")
    func connectionHeader() throws {
        let close = try EmbeddedServerConnection()
        try close.send("GET /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(try close.output().contains("\r\nconnection: close\r\n\r\n"))
        #expect(!close.channel.isActive)

        let old = try EmbeddedServerConnection()
        try old.send("GET /a HTTP/1.0\r\n\r\n")
        #expect(try old.output().contains("\r\nconnection: close\r\n\r\n"))
        #expect(!old.channel.isActive)

        let oldKept = try EmbeddedServerConnection()
        try oldKept.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try oldKept.output().contains("\r\nconnection: keep-alive\r\n\r\n"))
        #expect(oldKept.channel.isActive)
    }

    @Test("Expect: 100-continue gets 100 before the body is sent")
    func expectContinue() throws {
        let c = try EmbeddedServerConnection()
        try c.send("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        #expect(try c.output() == "HTTP/1.1 100 Continue\r\n\r\n")
        try c.send("ok")
        #expect(String(buffer: try #require(c.received.first).body) == "ok")
    }

    @Test("an answer to HEAD has its Content-Length but no body")
    func head() throws {
        let c = try EmbeddedServerConnection()
        try c.send("HEAD /a HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try c.output() == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 13\r\n\r\n")
    }

    @Test("a malformed request after a HEAD still gets its error's body")
    func errorAfterHead() throws {
        let c = try EmbeddedServerConnection()
        try c.send("HEAD /a HTTP/1.1\r\nHost: a\r\n\r\n")
        _ = try c.output()
        try c.send("GARBAGE\r\n\r\n")
        #expect(try c.output().hasSuffix(#"{"error":"malformed HTTP request"}"#))
    }

    @Test("quiescing closes an idle connection at once, and a busy one right after its answer")
    func quiescing() throws {
        let idle = try EmbeddedServerConnection()
        idle.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        idle.loop.run()
        #expect(!idle.channel.isActive)

        let busy = try EmbeddedServerConnection()
        try busy.send("GET /held HTTP/1.1\r\nHost: a\r\n\r\n")
        busy.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        busy.loop.run()
        #expect(busy.channel.isActive)
        busy.release()
        #expect(try busy.output().contains("\r\nconnection: close\r\n\r\n"))
        #expect(!busy.channel.isActive)
    }

    @Test("a failed future is answered 500 with a JSON error, and the connection stays usable")
    func failedAnswer() throws {
        let c = try EmbeddedServerConnection()
        try c.send("GET /held HTTP/1.1\r\nHost: a\r\n\r\n")
        c.held.removeFirst().respond(with: c.loop.makeFailedFuture(CancellationError()))
        c.loop.run()
        #expect(try c.output().hasPrefix("HTTP/1.1 500 Internal Server Error\r\n"))
        try c.send("GET /again HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try c.output().hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    @Test(
        "only the first answer to a request counts: a second one, or one after the next request began, writes nothing")
    func answersAfterTheFirst() throws {
        let c = try EmbeddedServerConnection()
        try c.send("GET /held HTTP/1.1\r\nHost: a\r\n\r\n")
        let first = try #require(c.held.first)
        c.release(HTTPServerResponse(status: .accepted))
        #expect(try c.output().hasPrefix("HTTP/1.1 202 Accepted\r\n"))
        first(.json(.ok, "{}"))
        c.loop.run()
        #expect(try c.output() == "")
        // The next request is held: the first one's responder must not answer it.
        try c.send("GET /held HTTP/1.1\r\nHost: a\r\n\r\n")
        first(.json(.ok, "{}"))
        c.loop.run()
        #expect(try c.output() == "")
        c.release(HTTPServerResponse(status: .noContent))
        #expect(try c.output().hasPrefix("HTTP/1.1 204 No Content\r\n"))
        #expect(c.channel.isActive)
    }

    @Test("while an answer is pending, pipelined bytes past the limit stop reading until they are consumed")
    func backpressure() throws {
        let c = try EmbeddedServerConnection(maxHeaderBytes: 100, maxBodyBytes: 0)
        var reads = 0
        let counter = ReadCounter { reads += 1 }
        try c.channel.pipeline.syncOperations.addHandler(counter, position: .first)
        try c.send("GET /held HTTP/1.1\r\nHost: a\r\n\r\n")
        c.channel.read()
        #expect(reads == 1)
        // 10 × 29 bytes: past the limit of 2 × (100 + 0).
        try c.send(String(repeating: "GET /n HTTP/1.1\r\nHost: a\r\n\r\n", count: 10))
        c.channel.read()
        #expect(reads == 1)
        c.release()
        #expect(reads == 2)
        #expect(c.received.count == 11)
    }
}

/// Counts the `read` calls that reach the front of the pipeline.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Never
    let onRead: () -> Void
    init(_ onRead: @escaping () -> Void) { self.onRead = onRead }
    func read(context: ChannelHandlerContext) {
        onRead()
        context.read()
    }
}
