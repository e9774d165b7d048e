import NIOCore
import NIOEmbedded
import Testing

@testable import ValkeyClient

/// What a reply promise ended with, observed synchronously (EmbeddedEventLoop runs callbacks
/// at once, on the test's thread).
final class Observed: @unchecked Sendable {
    var result: Result<RESPValue, any Error>?

    var value: RESPValue? { try? result?.get() }

    var error: ValkeyError? {
        if case .failure(let e) = result { return e as? ValkeyError }
        return nil
    }
}

/// One `RESPChannelHandler` in an active `EmbeddedChannel`.
struct Harness {
    let channel: EmbeddedChannel
    let handler = RESPChannelHandler()

    init() throws {
        channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: SocketAddress(unixDomainSocketPath: "/valkey.sock")).wait()
    }

    /// Sends a command waited for by a promise, as `ValkeyClient.send` does for futures.
    func send(_ arguments: String...) throws -> Observed {
        let observed = Observed()
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        promise.futureResult.whenComplete { observed.result = $0 }
        handler.send(RESPCommand(arguments), .promise(promise))
        handler.flush()
        return observed
    }

    /// Sends a command waited for by a callback, as the API's request path does.
    func sendWithCallback(_ arguments: String...) -> Observed {
        let observed = Observed()
        handler.send(RESPCommand(arguments), .callback { observed.result = $0 })
        handler.flush()
        return observed
    }

    /// Everything written to the socket so far, as text.
    func written() throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            text += String(buffer: buffer)
        }
        return text
    }

    func feed(_ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
    }

    /// Feeds one byte per read.
    func feedByteByByte(_ text: String) throws {
        for byte in text.utf8 { try channel.writeInbound(ByteBuffer(bytes: [byte])) }
    }
}

@Suite("RESPChannelHandler")
struct RESPChannelHandlerTests {
    @Test("a command is written as its exact RESP bytes")
    func writesBytes() throws {
        let h = try Harness()
        _ = try h.send("SET", "key", "19.90")
        #expect(try h.written() == "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\n19.90\r\n")
        _ = try h.send("GET", "")
        _ = try h.send("ECHO", "é")
        #expect(try h.written() == "*2\r\n$3\r\nGET\r\n$0\r\n\r\n*2\r\n$4\r\nECHO\r\n$2\r\né\r\n")
        _ = try? h.channel.finish()
    }

    static let replies: [(wire: String, value: RESPValue)] = [
        ("+OK\r\n", .string("OK")),
        ("-ERR unknown command 'FOO'\r\n", .error("ERR unknown command 'FOO'")),
        (":42\r\n", .integer(42)),
        (":-7\r\n", .integer(-7)),
        (":9223372036854775807\r\n", .integer(.max)),
        ("$5\r\nhello\r\n", .string("hello")),
        ("$0\r\n\r\n", .string("")),
        ("$4\r\na\r\nb\r\n", .string("a\r\nb")),
        ("$2\r\n\u{E9}\r\n", .string("é")),
        ("$-1\r\n", .null),
        ("*-1\r\n", .null),
        ("*0\r\n", .array([])),
        ("*3\r\n$1\r\na\r\n:1\r\n$-1\r\n", .array([.string("a"), .integer(1), .null])),
        ("*2\r\n*1\r\n+x\r\n*0\r\n", .array([.array([.string("x")]), .array([])])),
        (
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
            .error("WRONGTYPE Operation against a key holding the wrong kind of value")
        ),
    ]

    @Test("replies of every RESP2 type, fed one byte at a time, complete the commands in order")
    func everyTypeByteByByte() throws {
        let h = try Harness()
        let observed = try Self.replies.map { _ in try h.send("PING") }
        for (k, reply) in Self.replies.enumerated() {
            // Every byte but the last leaves the command waiting.
            let bytes = Array(reply.wire.utf8)
            for byte in bytes.dropLast() { try h.channel.writeInbound(ByteBuffer(bytes: [byte])) }
            #expect(observed[k].result == nil, "reply \(k) completed early")
            try h.channel.writeInbound(ByteBuffer(bytes: [bytes.last!]))
            #expect(observed[k].value == reply.value, "reply \(k)")
            if k + 1 < observed.count { #expect(observed[k + 1].result == nil) }
        }
        #expect(h.channel.isActive)
        _ = try? h.channel.finish()
    }

    @Test("many replies in one read complete their commands in order")
    func manyInOneRead() throws {
        let h = try Harness()
        let observed = try Self.replies.map { _ in try h.send("PING") }
        try h.feed(Self.replies.map(\.wire).joined())
        #expect(observed.map(\.value) == Self.replies.map(\.value))
        _ = try? h.channel.finish()
    }

    @Test("replies split at arbitrary points complete their commands in order")
    func arbitrarySplits() throws {
        let h = try Harness()
        var rng = SystemRandomNumberGenerator()
        let wire = Array(Self.replies.map(\.wire).joined().utf8)
        for _ in 0..<20 {
            let observed = try Self.replies.map { _ in try h.send("PING") }
            var i = 0
            while i < wire.count {
                let n = Int.random(in: 1...7, using: &rng)
                try h.channel.writeInbound(ByteBuffer(bytes: wire[i..<min(i + n, wire.count)]))
                i += n
            }
            #expect(observed.map(\.value) == Self.replies.map(\.value))
        }
        _ = try? h.channel.finish()
    }

    @Test("a large bulk string in small pieces is one reply")
    func largeBulk() throws {
        let h = try Harness()
        let observed = try h.send("GET", "big")
        let payload = String(repeating: "0123456789", count: 20_000)
        let wire = Array("$\(payload.utf8.count)\r\n\(payload)\r\n".utf8)
        var i = 0
        while i < wire.count {
            try h.channel.writeInbound(ByteBuffer(bytes: wire[i..<min(i + 1000, wire.count)]))
            i += 1000
        }
        #expect(observed.value == .string(payload))
        _ = try? h.channel.finish()
    }

    @Test("a connection close fails every pending command with connectionLost")
    func closeFailsPending() throws {
        let h = try Harness()
        let first = try h.send("GET", "a")
        let second = try h.send("GET", "b")
        let third = try h.send("BLPOP", "q", "0")
        try h.feed("$1\r\n1\r\n")
        #expect(first.value == .string("1"))
        #expect(second.result == nil)
        h.channel.pipeline.fireChannelInactive()
        #expect(second.error == .connectionLost)
        #expect(third.error == .connectionLost)
        _ = try? h.channel.finish()
    }

    @Test("closing the channel fails the pending commands with connectionLost")
    func channelCloseFailsPending() throws {
        let h = try Harness()
        let pending = try h.send("GET", "a")
        try h.channel.close().wait()
        #expect(pending.error == .connectionLost)
    }

    @Test("a command sent on an inactive channel fails at once and writes nothing")
    func inactiveChannel() throws {
        let handler = RESPChannelHandler()
        let channel = EmbeddedChannel(handler: handler)
        let observed = Observed()
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        promise.futureResult.whenComplete { observed.result = $0 }
        handler.send(RESPCommand(["PING"]), .promise(promise))
        handler.flush()
        #expect(observed.error == .connectionLost)
        let viaCallback = Observed()
        handler.send(RESPCommand(["PING"]), .callback { viaCallback.result = $0 })
        #expect(viaCallback.error == .connectionLost)
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        _ = try? channel.finish()
    }

    @Test("callbacks and promises share one queue: replies complete them in the order sent, and a close fails the rest")
    func callbacksAndPromisesInOrder() throws {
        let h = try Harness()
        let first = h.sendWithCallback("GET", "a")
        let second = try h.send("GET", "b")
        let third = h.sendWithCallback("GET", "c")
        let fourth = try h.send("GET", "d")
        #expect(try h.written().components(separatedBy: "GET").count == 5)
        try h.feed("$1\r\n1\r\n$1\r\n2\r\n")
        #expect(first.value == .string("1"))
        #expect(second.value == .string("2"))
        #expect(third.result == nil)
        try h.feed("$1\r\n3\r\n")
        #expect(third.value == .string("3"))
        try h.channel.close().wait()
        #expect(fourth.error == .connectionLost)
    }

    @Test("a reply nobody asked for closes the connection")
    func unsolicitedReply() throws {
        let h = try Harness()
        try h.feed("+OK\r\n")
        #expect(!h.channel.isActive)
    }

    @Test("a protocol error closes the connection and fails what was pending")
    func protocolError() throws {
        let h = try Harness()
        let pending = try h.send("PING")
        try? h.feed("?garbage\r\n")
        #expect(!h.channel.isActive)
        #expect(pending.error == .connectionLost)
    }
}
