import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PaymentCore
import PaymentStore
import ProcessorSimulator
import TestSupport
import Testing
import TextFormats

@testable import Worker

/// Kestrel's answer to an accepted payment, in its two writes.
let kestrelWrites = [kestrelFirstWrite, "0\r\n\r\n"]

/// Runs `body` with a test processor that answers each request with what `answer` returns for
/// its arrival index and exact text, and a client whose default processor is that server.
func withRawServer(
    maxConnections: Int = 4, timeoutMillis: Int64 = 5_000,
    answer: @escaping @Sendable (Int, String) -> TestHTTPServer.Answer,
    body: (ProcessorClient, TestHTTPServer) async throws -> Void
) async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let server = try await TestHTTPServer.start(group: group) { answer($0.index, $0.text) }
    try await withCleanup {
        try await withProcessorClient(
            default: server.url, timeoutMillis: timeoutMillis, maxConnections: maxConnections, group: group
        ) { client in try await body(client, server) }
    } cleanup: {
        await server.stop()
        try? await group.shutdownGracefully()
    }
}

/// A payment whose id ends in `n`, zero-padded.
func numberedPayment(_ n: Int) -> QueuedPayment {
    let digits = String(n)
    return QueuedPayment(
        correlationID: "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - digits.count) + digits,
        amount: Money(cents: 1990))
}

extension ProcessorClient {
    /// Connections open to the processor right now.
    func openConnections(_ p: Processor) async throws -> Int {
        let pool = pools[p]!
        return try await eventLoop.submit { pool.value.open }.get()
    }

    /// Sends raw request bytes to a processor through its pool (admin calls in tests).
    func raw(_ p: Processor, _ request: String) async throws -> ProcessorResponse {
        let pool = pools[p]!
        return try await eventLoop.flatSubmit {
            pool.value.execute(ByteBuffer(string: request), deadline: .now() + .seconds(5))
        }.get()
    }
}

@Suite("ProcessorClient, live")
struct ProcessorClientLiveTests {
    @Test("Kestrel's chunked answers in two writes are accepted, over one kept-alive connection")
    func chunkedKeepAlive() async throws {
        try await withRawServer(
            answer: { _, _ in .writes(kestrelWrites) },
            body: { client, server in
                for n in 0..<20 {
                    #expect(await client.send(numberedPayment(n), attempt: sentAttempt) == .accepted)
                }
                #expect(await client.connectionsMade()[.default] == 1)
                #expect(server.connections == 1)
                let requests = server.requests.map(\.text)
                #expect(requests.count == 20)
                let body =
                    #"{"correlationId":"00000000-0000-4000-8000-000000000007","amount":19.90,"requestedAt":"2025-07-10T12:34:56.123Z"}"#
                #expect(
                    requests[7]
                        == "POST /payments HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                        + body)
            })
    }

    @Test("health reads a chunked body")
    func chunkedHealth() async throws {
        let body = #"{"failing":false,"minResponseTime":103}"#
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n"
        let first = head + String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n"
        try await withRawServer(
            answer: { _, _ in .writes([first, "0\r\n\r\n"]) },
            body: { client, server in
                let h = try await client.health(.default)
                #expect(!h.failing)
                #expect(h.minResponseTime == 103)
                #expect(
                    server.requests.map(\.text)
                        == ["GET /payments/service-health HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\n\r\n"])
            })
    }

    @Test("calls beyond the connection limit wait; no connection ever carries two at once")
    func queueing() async throws {
        try await withRawServer(
            maxConnections: 2, answer: { _, _ in .writes(kestrelWrites) },
            body: { client, server in
                let outcomes = await withTaskGroup(of: CallOutcome.self) { group in
                    for n in 0..<30 { group.addTask { await client.send(numberedPayment(n), attempt: sentAttempt) } }
                    return await group.reduce(into: [CallOutcome]()) { $0.append($1) }
                }
                #expect(outcomes == Array(repeating: .accepted, count: 30))
                #expect(server.requests.count == 30)
                #expect(server.connections <= 2)
                #expect(!server.pipelined)
            })
    }

    @Test("a connection the server closed while idle is dropped; the next call opens another")
    func closedWhileIdle() async throws {
        try await withRawServer(
            answer: { _, _ in .writes(kestrelWrites, thenClose: true) },
            body: { client, server in
                #expect(await client.send(numberedPayment(1), attempt: sentAttempt) == .accepted)
                // Wait (not timed) until the client has seen the close.
                while try await client.openConnections(.default) > 0 { try await Task.sleep(for: .milliseconds(5)) }
                #expect(await client.send(numberedPayment(2), attempt: sentAttempt) == .accepted)
                #expect(await client.connectionsMade()[.default] == 2)
                #expect(server.requests.count == 2)
            })
    }

    @Test("a malformed answer is unknown, and its connection is not used again")
    func malformedAnswer() async throws {
        try await withRawServer(
            answer: { index, _ in
                index == 0
                    ? .writes(["HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"])
                    : .writes(kestrelWrites)
            },
            body: { client, _ in
                #expect(await client.send(numberedPayment(1), attempt: sentAttempt) == .unknown)
                #expect(await client.send(numberedPayment(2), attempt: sentAttempt) == .accepted)
                #expect(await client.connectionsMade()[.default] == 2)
            })
    }

    @Test("a call that waits past its deadline for a connection fails with nothing sent")
    func expiresInQueue() async throws {
        try await withRawServer(
            maxConnections: 1, answer: { _, _ in .hang },
            body: { client, server in
                let pool = client.pools[.default]!
                let request = ByteBuffer(string: "GET /payments/service-health HTTP/1.1\r\nHost: p\r\n\r\n")
                let (first, second) = try await client.eventLoop.submit {
                    (
                        pool.value.execute(request, deadline: .now() + .seconds(30)),
                        pool.value.execute(request, deadline: .now() + .milliseconds(100))
                    )
                }.get()
                await #expect(throws: ProcessorCallError.expiredInQueue) { try await second.get() }
                #expect(server.requests.count == 1)
                // Shutting down cuts the one in flight: it was written, so it is unknown.
                await client.shutdown()
                await #expect(throws: ProcessorCallError.closed) { try await first.get() }
            })
    }

    @Test("a timeout on one connection leaves the calls on the others unaffected")
    func timeoutIsolated() async throws {
        try await withRawServer(
            maxConnections: 4, timeoutMillis: 2_000,
            answer: { _, request in
                request.contains("000000000001") ? .hang : .writes(kestrelWrites)
            },
            body: { client, _ in
                async let hung = client.send(numberedPayment(1), attempt: sentAttempt)
                var others: [CallOutcome] = []
                for n in 2..<10 { others.append(await client.send(numberedPayment(n), attempt: sentAttempt)) }
                #expect(others == Array(repeating: .accepted, count: 8))
                #expect(await hung == .unknown)
            })
    }
}

@Suite("ProcessorClient against the processor simulator")
struct ProcessorClientSimulatorTests {
    @Test("payments, duplicates, failures and health, as the simulator stores and answers them")
    func simulator() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let simulator = try await ProcessorSimulator.start(
            configuration: SimulatorConfiguration(healthWindowMillis: 100), group: group)
        try await withProcessorClient(default: "http://127.0.0.1:\(simulator.port)", group: group) { client in
            #expect(await client.send(numberedPayment(1), attempt: sentAttempt) == .accepted)
            // The same payment again: 422, already stored.
            #expect(await client.send(numberedPayment(1), attempt: sentAttempt) == .accepted)
            let stored = try await client.raw(
                .default, "GET /payments/\(numberedPayment(1).correlationID) HTTP/1.1\r\nHost: s\r\n\r\n")
            #expect(stored.status == 200)
            let members = JSONScanner.parseObject(stored.body) ?? []
            #expect(members.contains { $0.0 == "requestedAt" && $0.1 == .string("2025-07-10T12:34:56.123") })
            #expect(members.contains { $0.0 == "amount" && ($0.1 == .number("19.9") || $0.1 == .number("19.90")) })

            let h = try await client.health(.default)
            #expect(!h.failing && h.minResponseTime == 0)

            let body = #"{"failure":true}"#
            let failing = try await client.raw(
                .default,
                "PUT /admin/configurations/failure HTTP/1.1\r\nHost: s\r\nX-Rinha-Token: 123\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            )
            #expect(failing.status == 200)
            #expect(await client.send(numberedPayment(2), attempt: sentAttempt) == .failed)
            #expect(await client.connectionsMade()[.default] == 1)
        }
        await simulator.close()
        try await group.shutdownGracefully()
    }
}
