import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PaymentCore
import PaymentStore

/// Calls the two payment processors over keep-alive HTTP/1.1 connections (AsyncHTTPClient's
/// pool), and says how each call ended in the terms exactly-once booking needs.
public struct ProcessorClient: Sendable {
    let http: HTTPClient
    let baseURLs: [Processor: String]
    let timeout: TimeAmount
    let logger: Logger

    public init(http: HTTPClient, baseURLs: [Processor: String], timeoutMillis: Int64, logger: Logger) {
        self.http = http
        self.baseURLs = baseURLs.mapValues { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.timeout = .milliseconds(timeoutMillis)
        self.logger = logger
    }

    /// A pool sized for `maxConnections` calls at once to each processor.
    public static func makeHTTPClient(group: any EventLoopGroup, maxConnections: Int) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: maxConnections)
        configuration.timeout = .init(connect: .milliseconds(1000))
        // A refused connection must fail at once (about 2 ms), not after the connect timeout:
        // nothing was sent, so the payment can go to the other processor right away.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.httpVersion = .http1Only
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroupProvider: .shared(group), configuration: configuration)
    }

    /// Sends one payment with the attempt's requestedAt.
    public func send(_ payment: QueuedPayment, attempt: PaymentRecord.Attempt) async -> CallOutcome {
        guard let base = baseURLs[attempt.processor] else { return .failed }
        var request = HTTPClientRequest(url: base + "/payments")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let body =
            "{\"correlationId\":\"\(payment.correlationID)\",\"amount\":\(payment.amount),\"requestedAt\":\"\(Timestamp.format(millis: attempt.requestedAt))\"}"
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await http.execute(request, timeout: timeout, logger: logger)
            _ = try? await response.body.collect(upTo: 64 * 1024)
            switch response.status.code {
            case 200...299, 422: return .accepted
            case 500, 429: return .failed
            case 400..<500:
                // The processor refused the request itself: it stored nothing.
                logger.error("processor refused payment", metadata: ["status": "\(response.status.code)"])
                return .failed
            default: return .unknown
            }
        } catch {
            return Self.classify(error)
        }
    }

    /// Errors raised before any byte of the request was written are definite failures; anything
    /// after that (timeout, reset, closed) leaves the outcome unknown.
    static func classify(_ error: any Error) -> CallOutcome {
        if error is NIOConnectionError { return .failed }
        if let e = error as? HTTPClientError, e == .connectTimeout || e == .invalidURL { return .failed }
        if let e = error as? ChannelError, case .connectTimeout = e { return .failed }
        if let e = error as? IOError, e.errnoCode == ECONNREFUSED || e.errnoCode == ENOENT { return .failed }
        return .unknown
    }

    /// Calls the processor's health endpoint (rate-limited by the processor: call it rarely).
    public func health(_ p: Processor) async throws -> ProcessorHealth {
        guard let base = baseURLs[p] else { throw HTTPClientError.invalidURL }
        let request = HTTPClientRequest(url: base + "/payments/service-health")
        // The time asked, not answered: it is what the stack-wide gate spaces out, and the
        // processor's state at any later instant is at least as new.
        let askedAt = WallClock.nowMillis()
        let response = try await http.execute(request, timeout: .seconds(6), logger: logger)
        let body = try await response.body.collect(upTo: 16 * 1024)
        guard response.status == .ok,
            let members = body.withUnsafeReadableBytes({ JSONScanner.parseObject($0) })
        else { throw HealthError.badAnswer(Int(response.status.code)) }
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
}
