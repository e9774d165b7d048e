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
            return Self.bounded(
                Self.retrying(until: deadline, on: eventLoop) { store.purge() }, by: deadline, on: eventLoop
            )
            .map { _ in .json(.ok, #"{"message":"All payments purged."}"#) }
            .recover { _ in .error(.serviceUnavailable, "storage unavailable") }
        case (.GET, "/health"):
            return store.isConnected.map { up in
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
            let budget = configuration.enqueueDeadlineMillis
            let deadline = NIODeadline.now() + .milliseconds(budget)
            // Valkey refuses the call if it only runs after this instant (its own clock), a
            // margin before the client gets its 503: an answer of 503 then always means "not
            // accepted", even when a stalled Valkey wakes up later and runs what was sent.
            let storeDeadline = WallClock.nowMillis() + budget - Self.lateMargin
            let accepted = Self.retrying(until: deadline, on: eventLoop) {
                store.accept(payment, deadlineMillis: storeDeadline)
            }
            return Self.bounded(accepted, by: deadline, on: eventLoop).map { outcome in
                switch outcome {
                case .queued, .repeated: return Self.accepted
                case .conflict: return .error(.conflict, "correlationId already used with another amount")
                case .late: return .error(.serviceUnavailable, "payment not accepted: storage too slow, retry")
                }
            }.recover { error in
                if case ValkeyError.server(let message) = error, message.hasPrefix("OOM") {
                    return .error(.serviceUnavailable, "payment not accepted: storage full, retry later")
                }
                return .error(.serviceUnavailable, "payment not accepted: storage unavailable, retry")
            }
        }
    }

    /// How long before the client's deadline Valkey stops accepting a payment (ms): covers the
    /// reply's way back.
    static let lateMargin: Int64 = 100

    /// The operation's result, or a failure at `deadline` if it has none by then (a stalled
    /// Valkey never answers: the client must not wait for it).
    static func bounded<T: Sendable>(
        _ future: EventLoopFuture<T>, by deadline: NIODeadline, on eventLoop: any EventLoop
    ) -> EventLoopFuture<T> {
        let promise = eventLoop.makePromise(of: T.self)
        // Both callbacks run on `eventLoop`; the first one answers.
        let answered = NIOLoopBoundBox(false, eventLoop: eventLoop)
        let timer = eventLoop.scheduleTask(deadline: deadline) {
            guard !answered.value else { return }
            answered.value = true
            promise.fail(ValkeyError.unavailable)
        }
        future.hop(to: eventLoop).whenComplete { result in
            timer.cancel()
            guard !answered.value else { return }
            answered.value = true
            promise.completeWith(result)
        }
        return promise.futureResult
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
        let window: TimeWindow
        do {
            window = try TimeWindow(query: request.rawQuery)
        } catch {
            return eventLoop.makeSucceededFuture(.error(.badRequest, error.message))
        }
        let deadline = NIODeadline.now() + .milliseconds(configuration.enqueueDeadlineMillis)
        let summary = Self.retrying(until: deadline, on: eventLoop) { store.summary(window) }
        return Self.bounded(summary, by: deadline, on: eventLoop).map { .json(.ok, $0.json) }
            .recover { _ in .error(.serviceUnavailable, "storage unavailable") }
    }
}
