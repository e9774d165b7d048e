import HTTPServerKit
import NIOCore
import NIOHTTP1
import PaymentCore
import PaymentStore
import ValkeyClient

/// The API's three endpoints plus a readiness probe. Written on NIO futures rather than
/// Hummingbird: this is the hot path of every payment, and staying on the connection's event
/// loop with no task hops keeps its latency at the floor (see tools/bench-api).
struct APIRoutes: Sendable {
    let store: PaymentStore
    let configuration: APIConfiguration

    func respond(to request: HTTPServerRequest, on eventLoop: any EventLoop) -> EventLoopFuture<HTTPServerResponse> {
        switch (request.method, request.path) {
        case (.POST, "/payments"):
            return postPayment(request, on: eventLoop)
        case (.GET, "/payments-summary"):
            return summary(request, on: eventLoop)
        case (.POST, "/purge-payments"):
            let deadline = NIODeadline.now() + .milliseconds(configuration.enqueueDeadlineMillis)
            return Self.retrying(until: deadline, on: eventLoop) { store.purge() }
                .map { .json(.ok, #"{"message":"All payments purged."}"#) }
                .recover { _ in .error(.serviceUnavailable, "storage unavailable") }
        case (.GET, "/health"):
            return store.client.isConnected.map { up in
                up ? .json(.ok, #"{"status":"ok"}"#) : .error(.serviceUnavailable, "storage unavailable")
            }
        case (_, "/payments"), (_, "/payments-summary"), (_, "/purge-payments"), (_, "/health"):
            return eventLoop.makeSucceededFuture(.error(.methodNotAllowed, "method not allowed"))
        default:
            return eventLoop.makeSucceededFuture(.error(.notFound, "not found"))
        }
    }

    private static let accepted = HTTPServerResponse(status: .accepted)

    private func postPayment(_ request: HTTPServerRequest, on eventLoop: any EventLoop) -> EventLoopFuture<
        HTTPServerResponse
    > {
        let parsed = request.body.withUnsafeReadableBytes { PaymentRequest.parse(body: $0) }
        switch parsed {
        case .failure(let invalid):
            return eventLoop.makeSucceededFuture(.error(.badRequest, invalid.message))
        case .success(let payment):
            let deadline = NIODeadline.now() + .milliseconds(configuration.enqueueDeadlineMillis)
            return enqueue(payment, deadline: deadline, on: eventLoop).map { outcome in
                switch outcome {
                case .queued, .repeated: return Self.accepted
                case .conflict: return .error(.conflict, "correlationId already used with another amount")
                }
            }.recover { _ in .error(.serviceUnavailable, "payment not accepted: storage unavailable, retry") }
        }
    }

    /// Sends the accept script until Valkey answers or the deadline passes. Sending it again after
    /// a lost reply is safe: a repeat of the same payment is recognised and changes nothing.
    private func enqueue(_ payment: PaymentRequest, deadline: NIODeadline, on eventLoop: any EventLoop)
        -> EventLoopFuture<PaymentStore.AcceptOutcome>
    {
        Self.retrying(until: deadline, on: eventLoop) { store.accept(payment) }
    }

    /// Runs `operation` again while it fails with a transient Valkey error (a restart in
    /// progress) and the deadline allows. Only for operations that are safe to repeat.
    static func retrying<T: Sendable>(
        until deadline: NIODeadline, on eventLoop: any EventLoop,
        _ operation: @escaping @Sendable () -> EventLoopFuture<T>
    ) -> EventLoopFuture<T> {
        operation().hop(to: eventLoop).flatMapError { error in
            let pause = TimeAmount.milliseconds(20)
            guard let valkeyError = error as? ValkeyError, valkeyError.isTransient, NIODeadline.now() + pause < deadline
            else { return eventLoop.makeFailedFuture(error) }
            return eventLoop.scheduleTask(in: pause) {}.futureResult.flatMap {
                retrying(until: deadline, on: eventLoop, operation)
            }
        }
    }

    private func summary(_ request: HTTPServerRequest, on eventLoop: any EventLoop) -> EventLoopFuture<
        HTTPServerResponse
    > {
        switch QueryString.window(request.rawQuery) {
        case .failure(let invalid):
            return eventLoop.makeSucceededFuture(.error(.badRequest, invalid.message))
        case .success(let window):
            let deadline = NIODeadline.now() + .milliseconds(configuration.enqueueDeadlineMillis)
            return Self.retrying(until: deadline, on: eventLoop) { store.summary(window) }.map { .json(.ok, $0.json) }
                .recover { _ in .error(.serviceUnavailable, "storage unavailable") }
        }
    }
}
