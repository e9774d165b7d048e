import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import PaymentCore
import PaymentStore
import TestSupport
import Testing

@testable import Worker

#if canImport(Glibc)
    import Glibc
#endif

/// How the test processor answers every request.
typealias Answer = TestHTTPServer.Answer

/// A test processor on 127.0.0.1 and an ephemeral port, on an event loop of `group`, that
/// answers every request with `answer`.
func startProcessor(_ answer: Answer, group: any EventLoopGroup) async throws -> TestHTTPServer {
    try await TestHTTPServer.start(group: group) { _ in answer }
}

/// A ProcessorClient (configured as in production) whose processors are `defaultURL` and
/// `fallbackURL`, on an event loop of `group`, for one test.
func withProcessorClient(
    default defaultURL: String, fallback fallbackURL: String = "http://127.0.0.1:1",
    timeoutMillis: Int64 = 5_000, maxConnections: Int = 4,
    group: any EventLoopGroup, _ body: (ProcessorClient) async throws -> Void
) async throws {
    let client = ProcessorClient(
        eventLoop: group.next(), baseURLs: [.default: defaultURL, .fallback: fallbackURL],
        timeoutMillis: timeoutMillis, maxConnections: maxConnections,
        logger: Logger(label: "processor-client-test"))
    try await withCleanup {
        try await body(client)
    } cleanup: {
        await client.shutdown()
    }
}

/// A test server answering `answer` and a client whose default processor is that server.
func withProcessor(
    _ answer: Answer, timeoutMillis: Int64 = 5_000,
    _ body: (ProcessorClient, TestHTTPServer) async throws -> Void
) async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let server = try await startProcessor(answer, group: group)
    try await withCleanup {
        try await withProcessorClient(default: server.url, timeoutMillis: timeoutMillis, group: group) { client in
            try await body(client, server)
        }
    } cleanup: {
        await server.stop()
        try? await group.shutdownGracefully()
    }
}

/// A TCP port on 127.0.0.1 where nothing listens (it was bound a moment ago, then closed).
func closedPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress!.port!
    try await channel.close()
    return port
}

let payment = QueuedPayment(
    correlationID: "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3", amount: Money(cents: 1990))
let sentAttempt = PaymentRecord.Attempt(
    amount: Money(cents: 1990), processor: .default, requestedAt: 1_752_150_896_123, pinned: false)

@Suite("ProcessorClient")
struct ProcessorClientTests {
    @Test("a payment is POSTed to /payments as JSON with the attempt's requestedAt")
    func requestShape() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await startProcessor(
            .status(200, body: #"{"message":"payment processed successfully"}"#), group: group)
        // A base URL with a trailing slash works too.
        try await withProcessorClient(default: server.url + "/", group: group) { client in
            let got = await client.send(payment, attempt: sentAttempt)
            #expect(got == .accepted)
        }
        await server.stop()
        try await group.shutdownGracefully()
        let received = server.requests
        #expect(received.count == 1)
        #expect(received.first?.method == "POST")
        #expect(received.first?.uri == "/payments")
        #expect(received.first?.header("Content-Type") == "application/json")
        #expect(
            received.first?.bodyText
                == #"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":19.90,"requestedAt":"2025-07-10T12:34:56.123Z"}"#
        )
    }

    @Test(
        "each processor status maps to the outcome exactly-once booking needs",
        arguments: [
            (200, CallOutcome.accepted), (201, .accepted), (204, .accepted), (422, .accepted),
            (500, .failed),
            (429, .failed), (400, .failed), (404, .failed), (502, .unknown), (503, .unknown),
            (504, .unknown),
            (301, .unknown),
        ])
    func statuses(code: Int, outcome: CallOutcome) async throws {
        try await withProcessor(.status(code)) { client, _ in
            let got = await client.send(payment, attempt: sentAttempt)
            #expect(got == outcome)
        }
    }

    @Test("the attempt's processor is the one called")
    func callsAttemptProcessor() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await startProcessor(.status(200), group: group)
        let closed = try await closedPort()
        try await withProcessorClient(
            default: "http://127.0.0.1:\(closed)", fallback: server.url, group: group
        ) {
            client in
            var a = sentAttempt
            a.processor = .fallback
            let got = await client.send(payment, attempt: a)
            #expect(got == .accepted)
        }
        await server.stop()
        try await group.shutdownGracefully()
        #expect(server.requests.count == 1)
    }

    @Test("no answer before the timeout is unknown: the processor may have the payment")
    func timeoutIsUnknown() async throws {
        // Long enough to connect and write on a loaded machine: a deadline that passes before the
        // write is a definite failure instead.
        try await withProcessor(.hang, timeoutMillis: 1_000) { client, server in
            let start = ContinuousClock.now
            let got = await client.send(payment, attempt: sentAttempt)
            #expect(got == .unknown)
            #expect(ContinuousClock.now - start < .seconds(2))
            #expect(server.requests.count == 1)
        }
    }

    @Test("a connection closed after the request was sent is unknown")
    func closedIsUnknown() async throws {
        try await withProcessor(.close) { client, server in
            let got = await client.send(payment, attempt: sentAttempt)
            #expect(got == .unknown)
            #expect(server.requests.count >= 1)
        }
    }

    @Test("a refused connection is a definite failure: nothing was sent")
    func refusedIsFailed() async throws {
        let port = try await closedPort()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        try await withProcessorClient(
            default: "http://127.0.0.1:\(port)", timeoutMillis: 1_000, group: group
        ) {
            client in
            let got = await client.send(payment, attempt: sentAttempt)
            #expect(got == .failed)
        }
        try await group.shutdownGracefully()
    }

    @Test("a refused connection fails fast, not after the whole request timeout")
    func refusedFailsFast() async throws {
        let port = try await closedPort()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // A timeout far longer than a refusal can take even on a crowded machine: the bound
        // tells "refused at once" from "waited for the timeout", not how fast the machine is.
        try await withProcessorClient(default: "http://127.0.0.1:\(port)", timeoutMillis: 20_000, group: group) {
            client in
            let start = ContinuousClock.now
            let got = await client.send(payment, attempt: sentAttempt)
            let took = ContinuousClock.now - start
            #expect(got == .failed)
            #expect(took < .seconds(10), "took \(took)")
        }
        try await group.shutdownGracefully()
    }

    @Test("a processor with no URL is a definite failure")
    func noURL() async throws {
        let client = ProcessorClient(
            eventLoop: MultiThreadedEventLoopGroup.singleton.next(), baseURLs: [.fallback: "https://127.0.0.1:1"],
            timeoutMillis: 100, logger: Logger(label: "processor-client-test"))
        #expect(await client.send(payment, attempt: sentAttempt) == .failed)
        // An unusable URL is no URL.
        var a = sentAttempt
        a.processor = .fallback
        #expect(await client.send(payment, attempt: a) == .failed)
        await #expect(throws: ProcessorCallError.noURL) { try await client.health(.default) }
        await client.shutdown()
    }

    @Test("health reads failing and minResponseTime")
    func health() async throws {
        try await withProcessor(.status(200, body: #"{"failing": true, "minResponseTime": 1500}"#)) {
            client, server in
            let before = WallClock.nowMillis()
            let h = try await client.health(.default)
            #expect(h.failing)
            #expect(h.minResponseTime == 1_500)
            #expect(h.polledAt >= before && h.polledAt <= WallClock.nowMillis())
            #expect(server.requests.first?.uri == "/payments/service-health")
            #expect(server.requests.first?.method == "GET")
        }
    }

    @Test(
        "health refuses a non-200 answer or a body without both members",
        arguments: [
            Answer.status(429), .status(500, body: #"{"failing":false,"minResponseTime":0}"#),
            .status(200, body: #"{"failing":false}"#), .status(200, body: #"{"minResponseTime":0}"#),
            .status(200, body: "not json"), .status(200, body: #"{"failing":"no","minResponseTime":0}"#),
        ])
    func healthRefuses(answer: Answer) async throws {
        try await withProcessor(answer) { client, _ in
            await #expect(throws: (any Error).self) { try await client.health(.default) }
        }
    }
}

@Suite("ProcessorClient outcomes")
struct ClassifyTests {
    @Test("errors raised before anything was written are definite failures")
    func definite() {
        for error in [ProcessorCallError.noURL, .connectFailed, .notWritten, .expiredInQueue, .shutdown] {
            #expect(error.outcome == .failed, "\(error)")
        }
    }

    @Test("errors after the request may have been written leave the outcome unknown")
    func ambiguous() {
        for error in [ProcessorCallError.timedOut, .closed, .malformedResponse] {
            #expect(error.outcome == .unknown, "\(error)")
        }
    }

    @Test("statuses map as the processors mean them")
    func statuses() {
        #expect(ProcessorClient.outcome(status: 200) == .accepted)
        #expect(ProcessorClient.outcome(status: 299) == .accepted)
        #expect(ProcessorClient.outcome(status: 422) == .accepted)
        #expect(ProcessorClient.outcome(status: 500) == .failed)
        #expect(ProcessorClient.outcome(status: 429) == .failed)
        #expect(ProcessorClient.outcome(status: 499) == .failed)
        #expect(ProcessorClient.outcome(status: 501) == .unknown)
        #expect(ProcessorClient.outcome(status: 100) == .unknown)
        #expect(ProcessorClient.outcome(status: 302) == .unknown)
    }

    @Test("a refused connect is a definite failure, at once")
    func refusedPool() async throws {
        let port = try await closedPort()
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let result = try await loop.flatSubmit {
            let pool = ProcessorConnectionPool(
                configuration: .init(host: "127.0.0.1", port: port, maxConnections: 2), eventLoop: loop)
            return pool.execute(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"), deadline: .now() + .seconds(5))
                .map { _ in ProcessorCallError?.none }
                .recover { $0 as? ProcessorCallError }
        }.get()
        #expect(result == .connectFailed)
    }
}
