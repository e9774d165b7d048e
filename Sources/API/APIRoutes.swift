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
            return Self.answer(
                by: deadline, on: eventLoop, operation: { store.purge() },
                respond: { result in
                    guard case .success = result else { return .error(.serviceUnavailable, "storage unavailable") }
                    return .json(.ok, #"{"message":"All payments purged."}"#)
                })
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
            return Self.answer(
                by: deadline, on: eventLoop, operation: { store.accept(payment, deadlineMillis: storeDeadline) },
                respond: { result in
                    switch result {
                    case .success(.queued), .success(.repeated): return Self.accepted
                    case .success(.conflict): return .error(.conflict, "correlationId already used with another amount")
                    case .success(.late):
                        return .error(.serviceUnavailable, "payment not accepted: storage too slow, retry")
                    case .failure(ValkeyError.server(let message)) where message.hasPrefix("OOM"):
                        return .error(.serviceUnavailable, "payment not accepted: storage full, retry later")
                    case .failure:
                        return .error(.serviceUnavailable, "payment not accepted: storage unavailable, retry")
                    }
                })
        }
    }

    /// How long before the client's deadline Valkey stops accepting a payment (ms): covers the
    /// reply's way back.
    static let lateMargin: Int64 = 100

    /// The answer made by `respond` from the result of `operation`, run again while it fails
    /// with a transient Valkey error (a restart in progress) and the deadline allows, or from
    /// `ValkeyError.unavailable` at `deadline` if there is no result by then (a stalled Valkey
    /// never answers: the client must not wait for it). Only for operations that are safe to
    /// repeat. One promise and one timer per request, completed in the tick the reply arrives in:
    /// this is every payment's path, so no chain of futures between the reply and the answer.
    static func answer<T: Sendable>(
        by deadline: NIODeadline, on eventLoop: any EventLoop,
        operation: @escaping @Sendable () -> EventLoopFuture<T>,
        respond: @escaping @Sendable (Result<T, any Error>) -> HTTPServerResponse
    ) -> EventLoopFuture<HTTPServerResponse> {
        let promise = eventLoop.makePromise(of: HTTPServerResponse.self)
        // The timer and the replies all run on `eventLoop`; the first to come answers.
        let answered = NIOLoopBoundBox(false, eventLoop: eventLoop)
        let timer = eventLoop.scheduleTask(deadline: deadline) {
            guard !answered.value else { return }
            answered.value = true
            promise.succeed(respond(.failure(ValkeyError.unavailable)))
        }
        @Sendable func attempt() {
            operation().hop(to: eventLoop).whenComplete { result in
                guard !answered.value else { return }
                let pause = TimeAmount.milliseconds(20)
                if case .failure(let error as ValkeyError) = result, error.isTransient,
                    NIODeadline.now() + pause < deadline
                {
                    eventLoop.scheduleTask(in: pause) { attempt() }
                    return
                }
                answered.value = true
                timer.cancel()
                promise.succeed(respond(result))
            }
        }
        attempt()
        return promise.futureResult
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
        return Self.answer(
            by: deadline, on: eventLoop, operation: { store.summary(window) },
            respond: { result in
                guard case .success(let summary) = result else {
                    return .error(.serviceUnavailable, "storage unavailable")
                }
                return .json(.ok, summary.json)
            })
    }
}
