import NIOCore
import NIOPosix
import NetworkEndpoint
import TestSupport
import Testing

@testable import Gateway

@Suite("Balancing and failover over real sockets", .serialized)
struct LiveBalancingTests {
    @Test("round-robin alternates exactly between the two upstreams on one connection")
    func roundRobin() async throws {
        try await withLiveStack(strategy: .roundRobin) { stack in
            let port = stack.port
            let names = try await blocking {
                let client = try RawHTTPClient(port: port)
                return try (0..<10).map { _ in
                    try client.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").header("x-upstream") ?? ""
                }
            }
            #expect(names == ["a", "b", "a", "b", "a", "b", "a", "b", "a", "b"])
        }
    }

    @Test(
        "least-connections and power-of-two steer away from a stalled upstream",
        arguments: [BalancingStrategyKind.leastConnections, .powerOfTwo])
    func steerAwayFromStalled(strategy: BalancingStrategyKind) async throws {
        try await withLiveStack(strategy: strategy) { stack in
            let port = stack.port
            try await stack.a.setStalled(true)
            // Send requests until one is stuck at the stalled upstream.
            let stuck = try RawHTTPClient(port: port)
            var stuckAtA = false
            for _ in 0..<50 where !stuckAtA {
                stuck.send("GET /probe HTTP/1.1\r\nHost: x\r\n\r\n")
                let total = try await stack.a.requests() + stack.b.requests()
                try await eventually { try await stack.a.requests() + stack.b.requests() > total }
                if try await stack.a.requests() == 1 {
                    stuckAtA = true
                } else {
                    _ = try await blocking { try stuck.readResponse() }
                }
            }
            #expect(stuckAtA)
            let names = try await blocking {
                let client = try RawHTTPClient(port: port)
                return try (0..<20).map { _ in
                    try client.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").header("x-upstream") ?? ""
                }
            }
            #expect(names == Array(repeating: "b", count: 20))
            #expect(try await stack.a.requests() == 1)
            withExtendedLifetime(stuck) {}
        }
    }

    @Test("with two event loop threads every connection is served and both upstreams are used")
    func twoThreads() async throws {
        try await withLiveStack(
            configure: { $0.threads = 2 },
            body: { stack in
                let port = stack.port
                let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
                    for _ in 0..<4 {
                        group.addTask {
                            try await blocking {
                                let client = try RawHTTPClient(port: port)
                                return try (0..<25).map { _ in
                                    try client.request(
                                        "POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
                                    )
                                    .status
                                }
                            }
                        }
                    }
                    return try await group.reduce(into: []) { $0 += $1 }
                }
                #expect(statuses == Array(repeating: 202, count: 100))
                #expect(try await stack.a.requests() > 0)
                #expect(try await stack.b.requests() > 0)
            })
    }

    @Test("random spreads requests over both upstreams")
    func random() async throws {
        try await withLiveStack(strategy: .random) { stack in
            let port = stack.port
            try await blocking {
                let client = try RawHTTPClient(port: port)
                for _ in 0..<200 { _ = try client.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n") }
            }
            #expect(try await stack.a.requests() > 50)
            #expect(try await stack.b.requests() > 50)
        }
    }

    @Test("least-latency sends most requests to the faster upstream")
    func leastLatency() async throws {
        try await withLiveStack(strategy: .leastLatency) { stack in
            let port = stack.port
            try await stack.a.setDelay(milliseconds: 20)
            try await blocking {
                let client = try RawHTTPClient(port: port)
                for _ in 0..<40 { _ = try client.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n") }
            }
            #expect(try await stack.b.requests() >= 35)
        }
    }

    @Test("an upstream killed mid-load costs at most the requests it held, and is used again once back")
    func killAndRestore() async throws {
        try await withLiveStack(
            strategy: .roundRobin, configure: { $0.ejectDuration = .milliseconds(200) },
            body: { stack in
                let port = stack.port
                let clients = 4
                let deadline = NIODeadline.now() + .milliseconds(2000)
                let load = Task {
                    try await withThrowingTaskGroup(of: [Int].self) { group in
                        for _ in 0..<clients {
                            group.addTask {
                                try await blocking {
                                    let client = try RawHTTPClient(port: port)
                                    var statuses: [Int] = []
                                    while NIODeadline.now() < deadline {
                                        let body = "{\"correlationId\":\"x\",\"amount\":19.9}"
                                        statuses.append(
                                            try client.request(
                                                "POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                                            ).status)
                                    }
                                    return statuses
                                }
                            }
                        }
                        return try await group.reduce(into: []) { $0 += $1 }
                    }
                }
                try await Task.sleep(for: .milliseconds(500))
                let path = stack.a.path
                await stack.a.stop()
                try await Task.sleep(for: .milliseconds(600))
                let revived = try await TestUpstream.start(name: "a2", path: path)
                let statuses = try await load.value
                let revivedRequests = try await revived.requests()
                await revived.stop()

                let accepted = statuses.filter { $0 == 202 }.count
                let badGateway = statuses.filter { $0 == 502 }.count
                #expect(accepted + badGateway == statuses.count, "only 202 or 502, never 503: \(Set(statuses))")
                #expect(badGateway <= clients)
                #expect(accepted > 100)
                #expect(revivedRequests > 0, "the restarted upstream is used again")
                #expect(stack.server.upstreams.counters(0).ejections >= 1)
            })
    }

    @Test("with every upstream down the client gets a 503 at once")
    func allDown() async throws {
        try await withLiveStack { stack in
            let port = stack.port
            await stack.a.stop()
            await stack.b.stop()
            let (statuses, elapsed) = try await blocking {
                let client = try RawHTTPClient(port: port)
                let start = NIODeadline.now()
                let statuses = try (0..<3).map { _ in try client.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status }
                return (statuses, NIODeadline.now() - start)
            }
            #expect(statuses == [503, 503, 503])
            #expect(elapsed < .milliseconds(500))
        }
    }

    @Test("a request written to an upstream that then fails gets a 502 and is never sent again")
    func neverResent() async throws {
        try await withLiveStack { stack in
            let port = stack.port
            let status = try await blocking {
                try RawHTTPClient(port: port).request("POST /close HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
                    .status
            }
            #expect(status == 502)
            try await Task.sleep(for: .milliseconds(100))
            let seen = try await stack.a.paths() + stack.b.paths()
            #expect(seen == ["/close"])
        }
    }

    @Test("an upstream that does not answer in time yields a 504")
    func upstreamTimeout() async throws {
        try await withLiveStack(
            configure: { $0.upstreamTimeout = .milliseconds(300) },
            body: { stack in
                let port = stack.port
                try await stack.a.setStalled(true)
                try await stack.b.setStalled(true)
                let (status, elapsed) = try await blocking {
                    let start = NIODeadline.now()
                    let status = try RawHTTPClient(port: port).request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status
                    return (status, NIODeadline.now() - start)
                }
                #expect(status == 504)
                #expect(elapsed >= .milliseconds(250) && elapsed < .seconds(2))
            })
    }

    @Test("the admin address serves the counters as JSON")
    func admin() async throws {
        try await withLiveStack(
            configure: { $0.admin = .tcp(host: "127.0.0.1", port: 0) },
            body: { stack in
                let port = stack.port
                let adminPort = try #require(stack.server.adminPort)
                let json = try await blocking {
                    _ = try RawHTTPClient(port: port).request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    return try RawHTTPClient(port: adminPort).request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").bodyText
                }
                #expect(json.contains("\"requests\":1"))
                #expect(json.contains("\"inService\":true"))
            })
    }

    @Test("graceful shutdown lets the request in progress finish and closes the connection")
    func gracefulShutdown() async throws {
        let a = try await TestUpstream.start(name: "a")
        var configuration = GatewayConfiguration(upstreams: [a.path])
        configuration.listen = .tcp(host: "127.0.0.1", port: 0)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await GatewayServer.start(configuration: configuration, group: group)
        let port = server.port
        let pending = Task {
            try await blocking { try RawHTTPClient(port: port).request("GET /delay/300 HTTP/1.1\r\nHost: x\r\n\r\n") }
        }
        try await eventually { try await a.requests() == 1 }
        await server.shutdown()
        let response = try await pending.value
        #expect(response.status == 200)
        #expect(response.header("connection") == "close")
        #expect(throws: (any Error).self) { try RawHTTPClient(port: port) }
        await a.stop()
        try await group.shutdownGracefully()
    }
}
