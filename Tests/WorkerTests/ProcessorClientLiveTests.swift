import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PaymentCore
import TextFormats
import PaymentStore
import ProcessorSimulator
import Testing

@testable import Worker

/// How `RawServer` answers one request.
enum RawAnswer: Sendable {
    /// Each string is written and flushed on its own, a moment apart (Kestrel's chunked answers
    /// come as the head with the first chunk, then the last chunk).
    case writes([String])
    /// The same, then the server closes the connection (without saying so in the head).
    case writesThenClose([String])
    case hang
}

/// A byte-level HTTP/1.1 server on 127.0.0.1 and an ephemeral port: it frames requests by
/// Content-Length, answers each with whatever `answer` returns for it (by arrival index), and
/// notes whether a client ever sent a request before the previous answer was complete.
final class RawServer: Sendable {
    let channel: any Channel
    let requests = NIOLockedValueBox<[String]>([])
    let connections = NIOLockedValueBox(0)
    let pipelined = NIOLockedValueBox(false)
    var port: Int { channel.localAddress!.port! }
    var url: String { "http://127.0.0.1:\(port)" }

    init(group: any EventLoopGroup, answer: @escaping @Sendable (Int, String) -> RawAnswer) async throws {
        let requests = requests
        let connections = connections
        let pipelined = pipelined
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                connections.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Handler(requests: requests, pipelined: pipelined, answer: answer))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func stop() async { try? await channel.close() }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let requests: NIOLockedValueBox<[String]>
        let pipelined: NIOLockedValueBox<Bool>
        let answer: @Sendable (Int, String) -> RawAnswer
        var buffer = ByteBuffer()
        var answering = false

        init(
            requests: NIOLockedValueBox<[String]>, pipelined: NIOLockedValueBox<Bool>,
            answer: @escaping @Sendable (Int, String) -> RawAnswer
        ) {
            self.requests = requests
            self.pipelined = pipelined
            self.answer = answer
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            buffer.writeBuffer(&bytes)
            serveNext(context: context)
        }

        private func serveNext(context: ChannelHandlerContext) {
            guard let request = nextRequest() else { return }
            if answering {
                pipelined.withLockedValue { $0 = true }
                return
            }
            let index = requests.withLockedValue {
                $0.append(request)
                return $0.count - 1
            }
            switch answer(index, request) {
            case .hang: answering = true
            case .writes(let parts): write(parts[...], close: false, context: context)
            case .writesThenClose(let parts): write(parts[...], close: true, context: context)
            }
        }

        private func write(_ parts: ArraySlice<String>, close: Bool, context: ChannelHandlerContext) {
            guard let first = parts.first else {
                answering = false
                if close {
                    context.close(promise: nil)
                } else {
                    serveNext(context: context)
                }
                return
            }
            answering = true
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: first)), promise: nil)
            let rest = parts.dropFirst()
            _ = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(rest.isEmpty ? 0 : 5)) {
                self.write(rest, close: close, context: context)
            }
        }

        /// One whole request off the front of `buffer`, if there is one.
        private func nextRequest() -> String? {
            let bytes = Array(buffer.readableBytesView)
            guard let headEnd = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
            var length = 0
            let head = String(decoding: bytes[..<headEnd.lowerBound], as: UTF8.self)
            for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
                length = Int(line.dropFirst("content-length:".count).filter { $0 != " " }) ?? 0
            }
            guard bytes.count >= headEnd.upperBound + length else { return nil }
            return buffer.readString(length: headEnd.upperBound + length)
        }
    }
}

/// Kestrel's answer to an accepted payment, in its two writes.
let kestrelWrites = [kestrelFirstWrite, "0\r\n\r\n"]

/// Runs `body` with a raw server and a client whose default processor is that server.
func withRawServer(
    maxConnections: Int = 4, timeoutMillis: Int64 = 5_000,
    answer: @escaping @Sendable (Int, String) -> RawAnswer,
    _ body: (ProcessorClient, RawServer) async throws -> Void
) async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let server = try await RawServer(group: group, answer: answer)
    var failure: (any Error)?
    do {
        try await withProcessorClient(
            default: server.url, timeoutMillis: timeoutMillis, maxConnections: maxConnections, group: group
        ) { client in try await body(client, server) }
    } catch {
        failure = error
    }
    await server.stop()
    try await group.shutdownGracefully()
    if let failure { throw failure }
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
        try await withRawServer(answer: { _, _ in .writes(kestrelWrites) }) { client, server in
            for n in 0..<20 {
                #expect(await client.send(numberedPayment(n), attempt: sentAttempt) == .accepted)
            }
            #expect(await client.connectionsMade()[.default] == 1)
            #expect(server.connections.withLockedValue { $0 } == 1)
            let requests = server.requests.withLockedValue { $0 }
            #expect(requests.count == 20)
            let body =
                #"{"correlationId":"00000000-0000-4000-8000-000000000007","amount":19.90,"requestedAt":"2025-07-10T12:34:56.123Z"}"#
            #expect(
                requests[7]
                    == "POST /payments HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                    + body)
        }
    }

    @Test("health reads a chunked body")
    func chunkedHealth() async throws {
        let body = #"{"failing":false,"minResponseTime":103}"#
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n"
        let first = head + String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n"
        try await withRawServer(answer: { _, _ in .writes([first, "0\r\n\r\n"]) }) { client, server in
            let h = try await client.health(.default)
            #expect(!h.failing)
            #expect(h.minResponseTime == 103)
            #expect(
                server.requests.withLockedValue { $0 }
                    == ["GET /payments/service-health HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\n\r\n"])
        }
    }

    @Test("calls beyond the connection limit wait; no connection ever carries two at once")
    func queueing() async throws {
        try await withRawServer(maxConnections: 2, answer: { _, _ in .writes(kestrelWrites) }) { client, server in
            let outcomes = await withTaskGroup(of: CallOutcome.self) { group in
                for n in 0..<30 { group.addTask { await client.send(numberedPayment(n), attempt: sentAttempt) } }
                return await group.reduce(into: [CallOutcome]()) { $0.append($1) }
            }
            #expect(outcomes == Array(repeating: .accepted, count: 30))
            #expect(server.requests.withLockedValue { $0.count } == 30)
            #expect(server.connections.withLockedValue { $0 } <= 2)
            #expect(!server.pipelined.withLockedValue { $0 })
        }
    }

    @Test("a connection the server closed while idle is dropped; the next call opens another")
    func closedWhileIdle() async throws {
        try await withRawServer(answer: { _, _ in .writesThenClose(kestrelWrites) }) { client, server in
            #expect(await client.send(numberedPayment(1), attempt: sentAttempt) == .accepted)
            // Wait (not timed) until the client has seen the close.
            while try await client.openConnections(.default) > 0 { try await Task.sleep(for: .milliseconds(5)) }
            #expect(await client.send(numberedPayment(2), attempt: sentAttempt) == .accepted)
            #expect(await client.connectionsMade()[.default] == 2)
            #expect(server.requests.withLockedValue { $0.count } == 2)
        }
    }

    @Test("a malformed answer is unknown, and its connection is not used again")
    func malformedAnswer() async throws {
        try await withRawServer(answer: { index, _ in
            index == 0
                ? .writes(["HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"])
                : .writes(kestrelWrites)
        }) { client, _ in
            #expect(await client.send(numberedPayment(1), attempt: sentAttempt) == .unknown)
            #expect(await client.send(numberedPayment(2), attempt: sentAttempt) == .accepted)
            #expect(await client.connectionsMade()[.default] == 2)
        }
    }

    @Test("a call that waits past its deadline for a connection fails with nothing sent")
    func expiresInQueue() async throws {
        try await withRawServer(maxConnections: 1, answer: { _, _ in .hang }) { client, server in
            let pool = client.pools[.default]!
            let request = ByteBuffer(string: "GET /payments/service-health HTTP/1.1\r\nHost: p\r\n\r\n")
            let (first, second) = try await client.eventLoop.submit {
                (
                    pool.value.execute(request, deadline: .now() + .seconds(30)),
                    pool.value.execute(request, deadline: .now() + .milliseconds(100))
                )
            }.get()
            await #expect(throws: ProcessorCallError.expiredInQueue) { try await second.get() }
            #expect(server.requests.withLockedValue { $0.count } == 1)
            // Shutting down cuts the one in flight: it was written, so it is unknown.
            await client.shutdown()
            await #expect(throws: ProcessorCallError.closed) { try await first.get() }
        }
    }

    @Test("a timeout on one connection leaves the calls on the others unaffected")
    func timeoutIsolated() async throws {
        try await withRawServer(
            maxConnections: 4, timeoutMillis: 2_000,
            answer: { _, request in
                request.contains("000000000001") ? .hang : .writes(kestrelWrites)
            }
        ) { client, _ in
            async let hung = client.send(numberedPayment(1), attempt: sentAttempt)
            var others: [CallOutcome] = []
            for n in 2..<10 { others.append(await client.send(numberedPayment(n), attempt: sentAttempt)) }
            #expect(others == Array(repeating: .accepted, count: 8))
            #expect(await hung == .unknown)
        }
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
