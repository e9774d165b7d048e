import Gateway
import HTTPServerKit
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NetworkEndpoint
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The gateway in handoff mode in front of real `HTTPServer`s (the API's server) with handoff
/// sockets, over real TCP and Unix sockets: every client connection is served by one API whole.
@Suite("Gateway in handoff mode, over real sockets")
struct HandoffGatewayTests {
    static let logger = Logger(label: "handoff-gateway-test")

    /// An API stand-in: `HTTPServer` answering `{"api":"<name>"}`, a second later on `/slow`
    /// (counting those requests as they arrive, so a test knows one is in progress).
    struct API {
        let name: String
        let server: HTTPServer
        let handoffPath: String
        let slowArrived: NIOLockedValueBox<Int>

        var slowInProgress: Bool { slowArrived.withLockedValue { $0 } > 0 }

        static func start(
            _ name: String, group: any EventLoopGroup, settings: (inout HTTPServer.HandoffSettings) -> Void
        ) async throws -> API {
            let base = "/tmp/handoff-gw-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max))"
            var handoff = HTTPServer.HandoffSettings(path: base + "-handoff.sock")
            settings(&handoff)
            let slowArrived = NIOLockedValueBox(0)
            let server = try await HTTPServer.start(
                target: .unix(path: base + ".sock"), group: group, handoff: handoff, logger: logger
            ) { request, responder in
                let answer = HTTPServerResponse.json(.ok, #"{"api":"\#(name)"}"#)
                guard request.path == "/slow" else { return responder(answer) }
                slowArrived.withLockedValue { $0 += 1 }
                responder.respond(with: responder.eventLoop.scheduleTask(in: .seconds(1)) { answer }.futureResult)
            }
            return API(name: name, server: server, handoffPath: base + "-handoff.sock", slowArrived: slowArrived)
        }
    }

    static func withGateway(
        strategy: BalancingStrategyKind = .roundRobin,
        settings: (inout HTTPServer.HandoffSettings) -> Void = { _ in },
        _ body: (HandoffGateway, [API]) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let apis = [
            try await API.start("a", group: group, settings: settings),
            try await API.start("b", group: group, settings: settings),
        ]
        var configuration = GatewayConfiguration(upstreams: apis.map(\.handoffPath))
        configuration.mode = .handoff
        configuration.listen = .tcp(host: "127.0.0.1", port: 0)
        configuration.strategy = strategy
        let gateway = try HandoffGateway.start(configuration: configuration, logger: logger)
        try await withCleanup {
            try await eventually { gateway.upstreams.allSatisfy(\.isUp) }
            try await body(gateway, apis)
        } cleanup: {
            await gateway.shutdown()
            for api in apis { await api.server.close(grace: .milliseconds(100)) }
            try? await group.shutdownGracefully()
        }
    }

    static let get = "GET /who HTTP/1.1\r\nHost: x\r\n\r\n"

    @Test("each connection is served whole by the API it was handed to; round-robin alternates connections")
    func connectionsAlternate() async throws {
        try await Self.withGateway { gateway, apis in
            let served = try await blocking {
                try (0..<4).map { _ in
                    let client = try RawHTTPClient(port: gateway.port)
                    defer { client.close() }
                    return try (0..<3).map { _ in try client.request(Self.get).bodyText }
                }
            }
            for answers in served { #expect(Set(answers).count == 1, "one connection, one API: \(answers)") }
            #expect(served.map(\.[0]) == [#"{"api":"a"}"#, #"{"api":"b"}"#, #"{"api":"a"}"#, #"{"api":"b"}"#])
            #expect(gateway.counted.handedOver == 4 && gateway.counted.unavailable == 0)
            #expect(gateway.upstreams.map(\.handedOver) == [2, 2])
        }
    }

    @Test("least-connections follows the APIs' reports of connections that closed")
    func leastConnectionsFollowsReports() async throws {
        try await Self.withGateway(strategy: .leastConnections) { gateway, apis in
            let first = try RawHTTPClient(port: gateway.port)
            let second = try RawHTTPClient(port: gateway.port)
            defer { second.close() }
            let firstAPI = try await blocking { try first.request(Self.get).bodyText }
            _ = try await blocking { try second.request(Self.get) }
            #expect(gateway.upstreams.map(\.openConnections) == [1, 1])
            first.close()
            let index = firstAPI.contains("\"a\"") ? 0 : 1
            try await eventually { gateway.upstreams[index].openConnections == 0 }
            let third = try RawHTTPClient(port: gateway.port)
            defer { third.close() }
            #expect(try await blocking { try third.request(Self.get).bodyText } == firstAPI)
        }
    }

    @Test("a stopped API gets no new connection; with none up, a 503 with a JSON message")
    func apisGoingDown() async throws {
        try await Self.withGateway { gateway, apis in
            await apis[1].server.close(grace: .milliseconds(100))
            try await eventually { !gateway.upstreams[1].isUp }
            let answers = try await blocking {
                try (0..<4).map { _ in
                    let client = try RawHTTPClient(port: gateway.port)
                    defer { client.close() }
                    return try client.request(Self.get).bodyText
                }
            }
            #expect(answers == Array(repeating: #"{"api":"a"}"#, count: 4))

            await apis[0].server.close(grace: .milliseconds(100))
            try await eventually { !gateway.upstreams[0].isUp }
            let refused = try await blocking {
                let client = try RawHTTPClient(port: gateway.port)
                defer { client.close() }
                return try client.request(Self.get)
            }
            #expect(refused.status == 503 && refused.bodyText == #"{"error":"no API instance is up"}"#)
            #expect(gateway.counted.unavailable == 1)
        }
    }

    @Test("at an API's max-connections a new connection replaces the oldest idle one; with none idle it is refused")
    func connectionLimit() async throws {
        let oneConnection: (inout HTTPServer.HandoffSettings) -> Void = { $0.maxConnections = 1 }
        try await Self.withGateway(settings: oneConnection) { gateway, apis in
            // Round-robin: connections 1 and 3 go to a, 2 and 4 to b.
            let idle = try RawHTTPClient(port: gateway.port)
            defer { idle.close() }
            #expect(try await blocking { try idle.request(Self.get).bodyText } == #"{"api":"a"}"#)
            let toB = try RawHTTPClient(port: gateway.port)
            defer { toB.close() }
            #expect(try await blocking { try toB.request(Self.get).status } == 200)
            let replacing = try RawHTTPClient(port: gateway.port)
            defer { replacing.close() }
            #expect(try await blocking { try replacing.request(Self.get).bodyText } == #"{"api":"a"}"#)
            #expect(try await blocking { idle.waitForClose() })
            #expect(apis[0].server.adoptedConnectionsShed == (1, 0))

            // b's one connection is busy: the next one it is handed is closed unanswered.
            toB.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            try await eventually { apis[1].slowInProgress }
            let refused = try RawHTTPClient(port: gateway.port)
            defer { refused.close() }
            refused.send(Self.get)
            #expect(try await blocking { refused.waitForClose() })
            #expect(apis[1].server.adoptedConnectionsShed == (0, 1))
            #expect(try await blocking { try toB.readResponse().status } == 200)
        }
    }

    @Test("unfinished requests past the APIs' budget get a 503 and close; a whole request is never charged")
    func bufferedBytesBudget() async throws {
        let smallBudget: (inout HTTPServer.HandoffSettings) -> Void = { $0.maxBufferedRequestBytes = 100 }
        try await Self.withGateway(settings: smallBudget) { gateway, _ in
            let whole = try RawHTTPClient(port: gateway.port)
            defer { whole.close() }
            let body = String(repeating: "x", count: 300)
            let answer = try await blocking {
                try whole.request("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n" + body)
            }
            #expect(answer.status == 200)

            let holding = try RawHTTPClient(port: gateway.port)
            defer { holding.close() }
            holding.send("POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n" + body.prefix(150))
            let refused = try await blocking { try holding.readResponse() }
            #expect(refused.status == 503 && refused.bodyText.contains("error"))
            #expect(try await blocking { holding.waitForClose() })
        }
    }

    @Test("a handed-over client's head is held to the gateway's 8 KiB limit: 431")
    func headLimit() async throws {
        try await Self.withGateway { gateway, _ in
            let client = try RawHTTPClient(port: gateway.port)
            defer { client.close() }
            let big = "GET /who HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 9000))\r\n\r\n"
            #expect(try await blocking { try client.request(big).status } == 431)
        }
    }

    @Test("an API's graceful stop answers the request in progress on a handed-over connection, then closes it")
    func gracefulStopOfTheAPI() async throws {
        try await Self.withGateway { gateway, apis in
            let client = try RawHTTPClient(port: gateway.port)
            defer { client.close() }
            #expect(try await blocking { try client.request(Self.get).bodyText } == #"{"api":"a"}"#)
            client.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            try await eventually { apis[0].slowInProgress }
            #expect(apis[0].server.adoptedConnections == 1)
            await apis[0].server.close(grace: .seconds(5))
            let answer = try await blocking { try client.readResponse() }
            #expect(answer.status == 200 && answer.head.lowercased().contains("connection: close"))
            #expect(try await blocking { client.waitForClose() })
            #expect(apis[0].server.adoptedConnections == 0)
        }
    }

    @Test("a handed-over connection that stays idle past the API's idle timeout is closed")
    func idleTimeout() async throws {
        let shortIdle: (inout HTTPServer.HandoffSettings) -> Void = { $0.idleTimeout = .milliseconds(200) }
        try await Self.withGateway(settings: shortIdle) { gateway, apis in
            let client = try RawHTTPClient(port: gateway.port)
            defer { client.close() }
            #expect(try await blocking { try client.request(Self.get).status } == 200)
            #expect(try await blocking { client.waitForClose() })
            try await eventually { apis.allSatisfy { $0.server.adoptedConnections == 0 } }
        }
    }

    @Test("least-latency is refused in handoff mode, which never sees an answer")
    func leastLatencyRefused() throws {
        var configuration = GatewayConfiguration(upstreams: ["/tmp/none-handoff.sock"])
        configuration.mode = .handoff
        configuration.listen = .tcp(host: "127.0.0.1", port: 0)
        configuration.strategy = .leastLatency
        #expect(throws: GatewayError.self) {
            try HandoffGateway.start(configuration: configuration, logger: Self.logger)
        }
    }
}
