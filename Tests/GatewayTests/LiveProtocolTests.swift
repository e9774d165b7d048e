import NIOCore
import TestSupport
import Testing

@testable import Gateway

#if canImport(Glibc)
    import Glibc
#endif

@Suite("HTTP/1.1 behaviour and limits over real sockets", .serialized)
struct LiveProtocolTests {
    @Test(
        "hostile or malformed requests get their status and the connection is closed",
        arguments: [
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", 400),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\nX: \u{0}\r\n\r\n", 400),
            ("\u{1}\u{2}\u{3} garbage \u{ff}\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "a", count: 2000) + "\r\n\r\n", 431),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", 413),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ])
    func hostile(request: String, status: Int) async throws {
        try await withLiveStack(
            configure: {
                $0.maxHeaderBytes = 1024
                $0.maxBodyBytes = 64 * 1024
            },
            body: { stack in
                let port = stack.port
                let (answer, closed) = try await blocking {
                    let client = try RawHTTPClient(port: port)
                    let answer = try client.request(request)
                    return (answer, client.waitForClose())
                }
                #expect(answer.status == status)
                #expect(answer.header("connection") == "close")
                #expect(closed)
                #expect(try await stack.a.requests() + stack.b.requests() == 0)
            })
    }

    @Test("a client that sends its head too slowly is disconnected")
    func slowHead() async throws {
        try await withLiveStack(
            configure: { $0.headerTimeout = .milliseconds(300) },
            body: { stack in
                let port = stack.port
                let (closed, elapsed) = try await blocking {
                    let client = try RawHTTPClient(port: port, timeoutSeconds: 3)
                    let start = NIODeadline.now()
                    // Trickles a byte every 50 ms: each byte is activity, but the head never completes.
                    for byte in "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8.prefix(20) {
                        client.send([byte])
                        usleep(50_000)
                    }
                    return (client.waitForClose(), NIODeadline.now() - start)
                }
                #expect(closed)
                #expect(elapsed < .seconds(2))
            })
    }

    @Test("an idle keep-alive connection is closed after the idle timeout")
    func idle() async throws {
        try await withLiveStack(
            configure: { $0.idleTimeout = .milliseconds(300) },
            body: { stack in
                let port = stack.port
                let (status, closed) = try await blocking {
                    let client = try RawHTTPClient(port: port, timeoutSeconds: 3)
                    let status = try client.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status
                    return (status, client.waitForClose())
                }
                #expect(status == 200 && closed)
            })
    }

    @Test("at the connection limit a new connection replaces the oldest idle one")
    func connectionLimitEvictsIdle() async throws {
        try await withLiveStack(
            configure: { $0.maxConnections = 2 },
            body: { stack in
                let port = stack.port
                let results = try await blocking {
                    let first = try RawHTTPClient(port: port, timeoutSeconds: 2)
                    let second = try RawHTTPClient(port: port)
                    let s1 = try first.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status
                    let s2 = try second.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status
                    // Both are idle now; the newcomer is served and the oldest is closed for it.
                    let third = try RawHTTPClient(port: port)
                    let s3 = try third.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status
                    let s2Again = try second.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status
                    return (s1, s2, s3, first.waitForClose(), s2Again)
                }
                #expect(results.0 == 200 && results.1 == 200 && results.2 == 200)
                #expect(results.3, "the oldest idle connection was closed")
                #expect(results.4 == 200, "the younger idle connection was kept")
                let shed = try await stack.server.connectionsShed()
                #expect(shed.evicted == 1 && shed.refused == 0)
            })
    }

    @Test("at the connection limit with every connection mid-request, new ones are closed at once")
    func connectionLimitRefusesWhenBusy() async throws {
        try await withLiveStack(
            configure: { $0.maxConnections = 2 },
            body: { stack in
                let port = stack.port
                let results = try await blocking {
                    // Two requests in progress (head sent, body not yet): neither may be closed.
                    let first = try RawHTTPClient(port: port)
                    let second = try RawHTTPClient(port: port)
                    first.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n")
                    second.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n")
                    usleep(100_000)
                    let third = try RawHTTPClient(port: port, timeoutSeconds: 2)
                    third.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    let thirdClosed = third.waitForClose()
                    first.send("ab")
                    second.send("cd")
                    return (thirdClosed, try first.readResponse().bodyText, try second.readResponse().bodyText)
                }
                #expect(results.0)
                #expect(results.1 == "ab" && results.2 == "cd")
                let shed = try await stack.server.connectionsShed()
                #expect(shed.evicted == 0 && shed.refused == 1)
                // Both are idle now: a newcomer takes the place of one of them.
                let status = try await blocking {
                    try RawHTTPClient(port: port).request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status
                }
                #expect(status == 200)
            })
    }

    @Test("unfinished requests beyond the loop's byte budget are refused with 503; others go on")
    func bufferedBytesBudget() async throws {
        try await withLiveStack(
            configure: {
                $0.maxBodyBytes = 64 * 1024
                $0.maxBufferedRequestBytes = 20 * 1024
            },
            body: { stack in
                let port = stack.port
                let results = try await blocking {
                    let head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 13000\r\n\r\n"
                    let first = try RawHTTPClient(port: port)
                    first.send(Array(head.utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 12_000))
                    usleep(100_000)
                    // 12 KB held by each would exceed 20 KiB together: the second is shed.
                    let second = try RawHTTPClient(port: port)
                    second.send(Array(head.utf8) + [UInt8](repeating: UInt8(ascii: "b"), count: 12_000))
                    let shed = try second.readResponse()
                    let secondClosed = second.waitForClose()
                    let small = try RawHTTPClient(port: port).request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status
                    first.send([UInt8](repeating: UInt8(ascii: "a"), count: 1000))
                    let completed = try first.readResponse()
                    return (shed.status, secondClosed, small, completed.status, completed.body.count)
                }
                #expect(results.0 == 503 && results.1)
                #expect(results.2 == 200)
                #expect(results.3 == 200 && results.4 == 13000)
            })
    }

    @Test("pipelined requests are answered in order, across both upstreams")
    func pipelining() async throws {
        try await withLiveStack { stack in
            let port = stack.port
            let answers = try await blocking {
                let client = try RawHTTPClient(port: port)
                var batch = ""
                for i in 1...6 { batch += "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n\(i)" }
                client.send(batch)
                return try (1...6).map { _ in try client.readResponse() }
            }
            #expect(answers.map(\.bodyText) == ["1", "2", "3", "4", "5", "6"])
            #expect(answers.map { $0.header("x-upstream") ?? "" } == ["a", "b", "a", "b", "a", "b"])
        }
    }

    @Test("Connection: close and HTTP/1.0 are honoured; HTTP/1.0 keep-alive is kept")
    func connectionSemantics() async throws {
        try await withLiveStack { stack in
            let port = stack.port
            try await blocking {
                let closing = try RawHTTPClient(port: port)
                let closed = try closing.request("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                #expect(closed.header("connection") == "close")
                #expect(closed.header("x-seen-connection") == "")
                #expect(closing.waitForClose())

                let old = try RawHTTPClient(port: port)
                let oldAnswer = try old.request("GET / HTTP/1.0\r\n\r\n")
                #expect(oldAnswer.status == 200 && oldAnswer.header("connection") == "close")
                #expect(oldAnswer.header("x-seen-version") == "1.1")
                #expect(old.waitForClose())

                let kept = try RawHTTPClient(port: port, timeoutSeconds: 1)
                for _ in 0..<3 {
                    let answer = try kept.request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                    #expect(answer.header("connection") == "keep-alive")
                }
            }
        }
    }

    @Test("large, empty and chunked bodies cross intact both ways; HEAD has no body")
    func bodies() async throws {
        try await withLiveStack(
            configure: {
                $0.maxBodyBytes = 1 << 20
                $0.maxResponseBytes = 8 << 20
            },
            body: { stack in
                let port = stack.port
                try await blocking {
                    let client = try RawHTTPClient(port: port)
                    let large = (0..<(512 * 1024)).map { UInt8(ascii: "a") + UInt8($0 % 26) }
                    client.send(
                        Array("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: \(large.count)\r\n\r\n".utf8) + large)
                    let echoed = try client.readResponse()
                    #expect(echoed.status == 200 && echoed.body == large)

                    let empty = try client.request("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                    #expect(empty.status == 200 && empty.body.isEmpty)

                    let chunked = try client.request(
                        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                    )
                    #expect(chunked.bodyText == "hello world")

                    let big = try client.request("GET /big/3000000 HTTP/1.1\r\nHost: x\r\n\r\n")
                    #expect(big.body.count == 3_000_000)

                    let dechunked = try client.request("GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n")
                    #expect(dechunked.bodyText == "hello chunked world")
                    #expect(dechunked.header("content-length") == "19")

                    let head = try client.request("HEAD /big/10 HTTP/1.1\r\nHost: x\r\n\r\n")
                    #expect(head.status == 200 && head.body.isEmpty)
                    #expect(try client.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200)
                }
            })
    }

    @Test("10,000 sequential requests on one keep-alive connection use one upstream connection each and flat memory")
    func keepAliveTenThousand() async throws {
        try await withLiveStack { stack in
            let port = stack.port
            let (statuses, growth) = try await blocking {
                let client = try RawHTTPClient(port: port)
                let request = "POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
                var statuses: [Int: Int] = [:]
                for _ in 0..<1000 { statuses[try client.request(request).status, default: 0] += 1 }
                let before = residentMemoryBytes()
                for _ in 0..<10_000 { statuses[try client.request(request).status, default: 0] += 1 }
                return (statuses, residentMemoryBytes() - before)
            }
            #expect(statuses == [202: 11_000])
            #expect(growth < 4 * 1024 * 1024, "resident memory grew by \(growth) bytes")
            #expect(try await stack.a.connections() == 1)
            #expect(try await stack.b.connections() == 1)
            #expect(stack.server.upstreams.counters(0).inFlight == 0)
        }
    }
}
