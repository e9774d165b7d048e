import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PaymentCore
import PaymentStore
import ProcessorSimulator
import TestSupport
import Testing
import TextFormats
import ValkeyClient
import Worker

/// A worker engine in-process against a real Valkey and two processor simulators, with a short
/// processor timeout, so that the outcomes a real day brings rarely (a timeout, then the processor
/// recording the payment anyway) happen on purpose.
struct Harness {
    let valkey: ValkeyServer
    let group: MultiThreadedEventLoopGroup
    let simulators: [Processor: ProcessorSimulator]
    let store: PaymentStore
    let client: ValkeyClient
    let http: HTTPClient
    let engine: WorkerEngine
    let closeEngine: @Sendable () async -> Void

    static func start(requestTimeoutMillis: Int64) async throws -> Harness {
        let valkey = try await ValkeyServer.start()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var simulators: [Processor: ProcessorSimulator] = [:]
        for (p, fee) in [(Processor.default, "0.05"), (.fallback, "0.15")] {
            simulators[p] = try await ProcessorSimulator.start(
                configuration: SimulatorConfiguration(feeRate: fee, healthWindowMillis: 200), group: group)
        }
        let logger = Logger(label: "test")
        let prefix = "t\(UInt32.random(in: 0...UInt32.max))"
        let client = ValkeyClient(
            configuration: ValkeyConfiguration(endpoint: .unix(path: valkey.socketPath)), eventLoop: group.next(),
            logger: logger)
        var configuration = WorkerConfiguration(
            valkey: .unix(path: valkey.socketPath), workerID: "w1",
            processorURLs: simulators.mapValues { "http://127.0.0.1:\($0.port)" })
        configuration.keyPrefix = prefix
        configuration.requestTimeoutMillis = requestTimeoutMillis
        configuration.healthIntervalMillis = 300
        let (engine, closeEngine) = WorkerService.build(configuration: configuration, group: group, logger: logger)
        return Harness(
            valkey: valkey, group: group, simulators: simulators,
            store: PaymentStore(client: client, keys: StoreKeys(prefix: prefix)), client: client,
            http: HTTPClient(eventLoopGroupProvider: .shared(group)), engine: engine, closeEngine: closeEngine)
    }

    func admin(_ p: Processor, _ method: HTTPMethod, _ path: String, _ body: String? = nil) async throws -> String {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(simulators[p]!.port)\(path)")
        request.method = method
        request.headers.add(name: "X-Rinha-Token", value: "123")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await http.execute(request, timeout: .seconds(5))
        return String(buffer: try await response.body.collect(upTo: 1 << 20))
    }

    func processorCount(_ p: Processor) async throws -> Int {
        let text = try await admin(p, .GET, "/admin/payments-summary")
        let members = JSONScanner.parseObject(Array(text.utf8)) ?? []
        for (key, value) in members where key == "totalRequests" {
            if case .number(let n) = value { return Int(n) ?? -1 }
        }
        return -1
    }

    /// The requestedAt the processor stored, in epoch ms.
    func storedRequestedAt(_ p: Processor, id: String) async throws -> Int64? {
        let text = try await admin(p, .GET, "/payments/\(id)")
        for (key, value) in JSONScanner.parseObject(Array(text.utf8)) ?? [] where key == "requestedAt" {
            // The processor prints a UTC DateTime without its zone, as .NET does.
            if case .string(let s) = value { return Timestamp.parseMillis(s) ?? Timestamp.parseMillis(s + "Z") }
        }
        return nil
    }

    /// The stored record of a payment accepted now.
    func record(id: String) async throws -> PaymentRecord? {
        try await store.record(
            of: QueuedPayment(
                correlationID: id, amount: Money(cents: 0), bucket: store.retention.bucket(at: WallClock.nowMillis())))
    }

    func waitUntil(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    func shutdown() async {
        await closeEngine()
        try? await http.shutdown()
        await client.close()
        for s in simulators.values { await s.close() }
        await valkey.stop()
        try? await group.shutdownGracefully()
    }
}

@Suite("Exactly-once booking when outcomes are unknown", .serialized)
struct ExactlyOnceTests {
    @Test(
        "a payment whose call timed out is sent again only to the same processor and booked once, under the stored requestedAt"
    )
    func timedOutPaymentIsPinned() async throws {
        let h = try await Harness.start(requestTimeoutMillis: 250)
        // Slower than the timeout: the first call ends unknown, but the processor records it.
        _ = try await h.admin(.default, .PUT, "/admin/configurations/delay", #"{"delay":600}"#)
        let engineTask = Task { await h.engine.run() }
        let id = UUID().uuidString.lowercased()
        #expect(
            try await h.store.accept(PaymentRequest(correlationID: id, amount: Money(cents: 1990))).get() == .queued)

        let pinned = try await h.waitUntil {
            if case .attempt(let a) = try await h.record(id: id) { return a.pinned }
            return false
        }
        #expect(pinned)
        // The processor recorded the first call after its delay although the worker gave up.
        #expect(try await h.waitUntil { try await h.processorCount(.default) == 1 })
        _ = try await h.admin(.default, .PUT, "/admin/configurations/delay", #"{"delay":0}"#)

        let booked = try await h.waitUntil {
            if case .booked = try await h.record(id: id) { return true }
            return false
        }
        #expect(booked)
        guard case .booked(let amount, let processor, let requestedAt) = try await h.record(id: id) else {
            Issue.record("not booked")
            return
        }
        #expect(amount == Money(cents: 1990))
        #expect(processor == .default)
        #expect(try await h.storedRequestedAt(.default, id: id) == requestedAt)
        #expect(try await h.processorCount(.fallback) == 0)
        let summary = try await h.store.summary(TimeWindow()).get()
        #expect(summary.default.totalRequests == 1 && summary.fallback.totalRequests == 0)
        h.engine.stop()
        await engineTask.value
        await h.shutdown()
    }

    @Test("a pinned payment waits for its processor even while the other one is healthy")
    func pinnedPaymentNeverMoves() async throws {
        let h = try await Harness.start(requestTimeoutMillis: 250)
        _ = try await h.admin(.default, .PUT, "/admin/configurations/delay", #"{"delay":600}"#)
        _ = try await h.admin(.default, .PUT, "/admin/configurations/failure", #"{"failure":true}"#)
        let engineTask = Task { await h.engine.run() }
        let id = UUID().uuidString.lowercased()
        _ = try await h.store.accept(PaymentRequest(correlationID: id, amount: Money(cents: 500))).get()
        #expect(
            try await h.waitUntil {
                if case .attempt(let a) = try await h.record(id: id) {
                    return a.pinned && a.processor == .default
                }
                return false
            })
        // Now the pinned processor answers at once, with definite failures: still it must not move.
        _ = try await h.admin(.default, .PUT, "/admin/configurations/delay", #"{"delay":0}"#)
        try await Task.sleep(for: .seconds(1))
        #expect(try await h.processorCount(.fallback) == 0)
        if case .attempt(let a) = try await h.record(id: id) {
            #expect(a.processor == .default && a.pinned)
        } else {
            Issue.record("the payment left its pinned attempt")
        }
        _ = try await h.admin(.default, .PUT, "/admin/configurations/failure", #"{"failure":false}"#)
        #expect(
            try await h.waitUntil {
                if case .booked(_, let p, _) = try await h.record(id: id) { return p == .default }
                return false
            })
        #expect(try await h.processorCount(.default) == 1)
        #expect(try await h.processorCount(.fallback) == 0)
        h.engine.stop()
        await engineTask.value
        await h.shutdown()
    }

    @Test("new payments go to fallback while default fails, and are booked there once")
    func definiteFailuresMoveNewPayments() async throws {
        let h = try await Harness.start(requestTimeoutMillis: 2_000)
        _ = try await h.admin(.default, .PUT, "/admin/configurations/failure", #"{"failure":true}"#)
        let engineTask = Task { await h.engine.run() }
        for _ in 0..<20 {
            _ = try await h.store.accept(
                PaymentRequest(correlationID: UUID().uuidString.lowercased(), amount: Money(cents: 100))
            ).get()
        }
        #expect(try await h.waitUntil { try await h.store.summary(TimeWindow()).get().fallback.totalRequests == 20 })
        #expect(try await h.processorCount(.fallback) == 20)
        #expect(try await h.processorCount(.default) == 0)
        h.engine.stop()
        await engineTask.value
        await h.shutdown()
    }
}
