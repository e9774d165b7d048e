import Logging
import NIOCore
import PaymentCore
import PaymentStore
import TextFormats

/// Calls the two payment processors over pooled keep-alive HTTP/1.1 connections on one event
/// loop (the worker's own), and says how each call ended in the terms exactly-once booking needs:
/// accepted, failed (the processor certainly does not have the payment) or unknown.
public final class ProcessorClient: Sendable {
    public let eventLoop: any EventLoop
    let endpoints: [Processor: ProcessorEndpoint]
    let pools: [Processor: NIOLoopBoundBox<ProcessorConnectionPool>]
    let timeout: TimeAmount
    let logger: Logger

    /// The default connection limit per processor (see the README's worker section for how it
    /// was sized).
    public static let defaultMaxConnections = 64

    /// `baseURLs` are `http://host[:port][/prefix]`; a processor whose URL is missing or unusable
    /// fails every call (nothing is sent).
    public init(
        eventLoop: any EventLoop, baseURLs: [Processor: String], timeoutMillis: Int64,
        maxConnections: Int = ProcessorClient.defaultMaxConnections, logger: Logger
    ) {
        self.eventLoop = eventLoop
        self.timeout = .milliseconds(timeoutMillis)
        self.logger = logger
        var endpoints: [Processor: ProcessorEndpoint] = [:]
        var pools: [Processor: NIOLoopBoundBox<ProcessorConnectionPool>] = [:]
        for (p, url) in baseURLs {
            guard let endpoint = ProcessorEndpoint(url: url) else {
                logger.error("unusable processor URL", metadata: ["processor": "\(p)", "url": "\(url)"])
                continue
            }
            endpoints[p] = endpoint
            let configuration = ProcessorConnectionPool.Configuration(
                host: endpoint.host, port: endpoint.port, maxConnections: max(1, maxConnections))
            pools[p] = NIOLoopBoundBox.makeBoxSendingValue(
                ProcessorConnectionPool(configuration: configuration, eventLoop: eventLoop), eventLoop: eventLoop)
        }
        self.endpoints = endpoints
        self.pools = pools
    }

    /// Sends one payment with the attempt's requestedAt. The future always succeeds, on `eventLoop`.
    public func sendFuture(_ payment: QueuedPayment, attempt: PaymentRecord.Attempt) -> EventLoopFuture<CallOutcome> {
        let promise = eventLoop.makePromise(of: CallOutcome.self)
        send(payment, attempt: attempt) { promise.succeed($0) }
        return promise.futureResult
    }

    /// Sends one payment with the attempt's requestedAt; `then` runs on `eventLoop` with how the
    /// call ended, in the tick its answer is read. Every payment's call: no future in between.
    public func send(
        _ payment: QueuedPayment, attempt: PaymentRecord.Attempt, then: @escaping @Sendable (CallOutcome) -> Void
    ) {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { self.send(payment, attempt: attempt, then: then) }
            return
        }
        guard let endpoint = endpoints[attempt.processor], let pool = pools[attempt.processor]?.value else {
            then(.failed)
            return
        }
        let logger = logger
        let request = endpoint.paymentRequest(payment, requestedAt: attempt.requestedAt, allocator: pool.allocator)
        pool.execute(request, deadline: .now() + timeout) { result in
            switch result {
            case .success(let response):
                let outcome = ProcessorClient.outcome(status: response.status)
                if outcome == .failed && response.status != 500 && response.status != 429 {
                    // The processor refused the request itself: it stored nothing.
                    logger.error("processor refused payment", metadata: ["status": "\(response.status)"])
                }
                then(outcome)
            case .failure(let error):
                then(error.outcome)
            }
        }
    }

    /// Sends one payment with the attempt's requestedAt.
    public func send(_ payment: QueuedPayment, attempt: PaymentRecord.Attempt) async -> CallOutcome {
        (try? await sendFuture(payment, attempt: attempt).get()) ?? .unknown
    }

    /// What a processor's status code means for the payment.
    static func outcome(status: Int) -> CallOutcome {
        switch status {
        case 200...299, 422: .accepted
        // 500: failing, nothing stored. 429: over its limit, not taken. Other 4xx: refused as sent.
        case 400..<500, 500: .failed
        default: .unknown
        }
    }

    /// Calls the processor's health endpoint (rate-limited by the processor: call it rarely).
    public func health(_ p: Processor) async throws -> ProcessorHealth {
        guard let endpoint = endpoints[p], let pool = pools[p] else { throw ProcessorCallError.noURL }
        // The time asked, not answered: it is what the stack-wide gate spaces out, and the
        // processor's state at any later instant is at least as new.
        let askedAt = WallClock.nowMillis()
        // The processor holds a call over its rate limit until the next 5 s window.
        let deadline = NIODeadline.now() + .seconds(6)
        let response = try await eventLoop.flatSubmit {
            let pool = pool.value
            return pool.execute(endpoint.healthRequest(allocator: pool.allocator), deadline: deadline)
        }.get()
        guard response.status == 200, let members = JSONScanner.parseObject(response.body) else {
            throw HealthError.badAnswer(response.status)
        }
        var failing: Bool?
        var minResponseTime: Int?
        for (key, value) in members {
            if key == "failing", case .bool(let b) = value { failing = b }
            if key == "minResponseTime", case .number(let n) = value { minResponseTime = Int(n) }
        }
        guard let failing, let minResponseTime else { throw HealthError.badAnswer(200) }
        return ProcessorHealth(failing: failing, minResponseTime: minResponseTime, polledAt: askedAt)
    }

    enum HealthError: Error { case badAnswer(Int) }

    /// Closes every connection. Calls still waiting fail; calls in flight end unknown.
    public func shutdown() async {
        for (p, counts) in await connectionCounts() {
            logger.info(
                "processor connections",
                metadata: ["processor": "\(p)", "made": "\(counts.made)", "peak": "\(counts.peak)"])
        }
        let pools = pools
        try? await eventLoop.submit {
            for pool in pools.values { pool.value.shutdown() }
        }.get()
    }

    /// Connections made so far to each processor (for measurements).
    public func connectionsMade() async -> [Processor: Int] {
        await connectionCounts().mapValues(\.made)
    }

    /// Per processor: connections made so far, and the most open at once.
    public func connectionCounts() async -> [Processor: (made: Int, peak: Int)] {
        let pools = pools
        let counts = try? await eventLoop.submit {
            pools.mapValues { [$0.value.connectionsMade, $0.value.peakOpen] }
        }.get()
        return (counts ?? [:]).mapValues { (made: $0[0], peak: $0[1]) }
    }
}
