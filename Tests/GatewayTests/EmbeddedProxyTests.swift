import NIOCore
import NIOEmbedded
import Testing

@testable import Gateway

/// A client connection handler in front of a pool whose "upstream connections" are embedded
/// channels on the same loop: the exact bytes on both sides can be read and written.
final class EmbeddedProxy {
    let loop = EmbeddedEventLoop()
    let table: UpstreamTable
    let pool: UpstreamPool<RoundRobin>
    let client: EmbeddedChannel
    var upstreams: [EmbeddedChannel] = []

    init(upstreamCount: Int = 2) throws {
        let configuration = GatewayConfiguration(upstreams: (0..<upstreamCount).map { "/tmp/u\($0)" })
        table = UpstreamTable(
            paths: configuration.upstreams, ejectDuration: .seconds(2), ejectAfterFailures: 3)
        pool = UpstreamPool<RoundRobin>(
            eventLoop: loop, table: table, configuration: configuration, seed: 1)
        client = EmbeddedChannel(loop: loop)
        pool.channelFactory = { [unowned self] _ in
            let channel = EmbeddedChannel(loop: loop)
            _ = channel.connect(to: try! SocketAddress(ipAddress: "127.0.0.1", port: 1))
            upstreams.append(channel)
            return loop.makeSucceededFuture(channel)
        }
        try client.pipeline.syncOperations.addHandler(ClientConnectionHandler(pool: pool))
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
    }

    func clientSends(_ text: String) throws {
        try client.writeInbound(ByteBuffer(string: text))
        loop.run()
    }

    func upstreamReceived(_ index: Int) throws -> String? {
        try upstreams[index].readOutbound(as: ByteBuffer.self).map { String(buffer: $0) }
    }

    func upstreamAnswers(_ index: Int, _ text: String) throws {
        try upstreams[index].writeInbound(ByteBuffer(string: text))
        loop.run()
    }

    func clientReceived() throws -> String? {
        var text = ""
        while let buffer = try client.readOutbound(as: ByteBuffer.self) {
            text += String(buffer: buffer)
        }
        return text.isEmpty ? nil : text
    }
}

@Suite("Proxy handlers over embedded channels, exact bytes")
struct EmbeddedProxyTests {
    @Test("a request and its answer cross the gateway byte for byte")
    func passThrough() throws {
        let proxy = try EmbeddedProxy()
        let request = "POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
        try proxy.clientSends(request)
        #expect(try proxy.upstreamReceived(0) == request)
        let answer = "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n"
        try proxy.upstreamAnswers(0, answer)
        #expect(try proxy.clientReceived() == answer)
        #expect(proxy.client.isActive)
        #expect(proxy.table.counters(0) == (requests: 1, errors: 0, inFlight: 0, ejections: 0))
    }

    @Test("the upstream connection is reused for the next request, and round-robin alternates")
    func reuseAndAlternate() throws {
        let proxy = try EmbeddedProxy()
        for (i, expected) in [0, 1, 0, 1].enumerated() {
            try proxy.clientSends("GET /\(i) HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try proxy.upstreamReceived(expected) == "GET /\(i) HTTP/1.1\r\nHost: x\r\n\r\n")
            try proxy.upstreamAnswers(expected, "HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n\(i)")
            #expect(try proxy.clientReceived() == "HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n\(i)")
        }
        #expect(proxy.upstreams.count == 2)
    }

    @Test("pipelined requests are forwarded one at a time and answered in order")
    func pipelining() throws {
        let proxy = try EmbeddedProxy(upstreamCount: 1)
        try proxy.clientSends("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try proxy.upstreamReceived(0) == "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try proxy.upstreamReceived(0) == nil)
        try proxy.upstreamAnswers(0, "HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n1")
        #expect(try proxy.upstreamReceived(0) == "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        try proxy.upstreamAnswers(0, "HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n2")
        #expect(
            try proxy.clientReceived()
                == "HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n1HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n2"
        )
    }

    @Test("hop-by-hop headers are stripped both ways and Connection: close is honoured")
    func hopByHop() throws {
        let proxy = try EmbeddedProxy()
        try proxy.clientSends(
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close, X-Foo\r\nX-Foo: 1\r\nKeep-Alive: 5\r\nX-Bar: 2\r\n\r\n"
        )
        #expect(try proxy.upstreamReceived(0) == "GET / HTTP/1.1\r\nHost: x\r\nX-Bar: 2\r\n\r\n")
        try proxy.upstreamAnswers(
            0, "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok")
        #expect(
            try proxy.clientReceived()
                == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nconnection: close\r\n\r\nok")
        #expect(!proxy.client.isActive)
    }

    @Test("a malformed request gets exactly a 400 and the connection closes, nothing goes upstream")
    func malformed() throws {
        let proxy = try EmbeddedProxy()
        try proxy.clientSends(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(
            try proxy.clientReceived()
                == "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        #expect(!proxy.client.isActive)
        #expect(proxy.upstreams.isEmpty)
    }

    @Test("an upstream that closes after the request was written yields a 502, never a resend")
    func noAnswer() throws {
        let proxy = try EmbeddedProxy()
        try proxy.clientSends("POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        #expect(try proxy.upstreamReceived(0) != nil)
        proxy.upstreams[0].pipeline.fireChannelInactive()
        proxy.loop.run()
        #expect(try proxy.clientReceived() == "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
        #expect(proxy.upstreams.count == 1)
        #expect(try proxy.upstreamReceived(0) == nil)
        #expect(proxy.client.isActive)
        #expect(proxy.table.counters(0).errors == 1)
    }

    @Test("with every upstream out of service the client gets a 503 at once")
    func allDown() throws {
        let proxy = try EmbeddedProxy()
        let now = NIODeadline.now().uptimeNanoseconds
        proxy.table.requestFailed(0, connectionRefused: true, now: now)
        proxy.table.requestFailed(1, connectionRefused: true, now: now)
        try proxy.clientSends("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        let unavailable = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"
        #expect(try proxy.clientReceived() == unavailable + unavailable)
        #expect(proxy.upstreams.isEmpty)
    }

    @Test("a chunked answer reaches an HTTP/1.0 keep-alive client with a length")
    func http10Client() throws {
        let proxy = try EmbeddedProxy()
        try proxy.clientSends("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try proxy.upstreamReceived(0) == "GET / HTTP/1.1\r\n\r\n")
        try proxy.upstreamAnswers(
            0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        #expect(
            try proxy.clientReceived()
                == "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok")
        #expect(proxy.client.isActive)
    }

    @Test("Expect: 100-continue is answered by the gateway before the body arrives")
    func expectContinue() throws {
        let proxy = try EmbeddedProxy()
        try proxy.clientSends(
            "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        #expect(try proxy.clientReceived() == "HTTP/1.1 100 Continue\r\n\r\n")
        try proxy.clientSends("{}")
        #expect(
            try proxy.upstreamReceived(0) == "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
    }

    @Test("an answer in several pieces is forwarded once complete")
    func piecewiseAnswer() throws {
        let proxy = try EmbeddedProxy()
        try proxy.clientSends("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try proxy.upstreamReceived(0)
        try proxy.upstreamAnswers(0, "HTTP/1.1 200 OK\r\ncont")
        #expect(try proxy.clientReceived() == nil)
        try proxy.upstreamAnswers(0, "ent-length: 3\r\n\r\nab")
        try proxy.upstreamAnswers(0, "c")
        #expect(try proxy.clientReceived() == "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc")
    }
}
