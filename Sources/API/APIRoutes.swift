import HTTPServerKit
import NIOCore
import NIOHTTP1
import PaymentCore
import PaymentStore
import ValkeyClient

/// The API's three endpoints plus a readiness probe. Written on NIO callbacks rather than
/// Hummingbird: this is the hot path of every payment, and staying on the connection's event
/// loop with no task hop keeps its latency at the floor (see tools/bench-api). A payment's
/// answer is written in the tick Valkey's reply is read, with no future between the two.
struct APIRoutes: Sendable {
    let store: PaymentStore
    let configuration: APIConfiguration
    /// Every request's deadline; on the event loop of the store's client, which is the
    /// connections' loop too.
    let deadlines: AnswerDeadlines

    init(store: PaymentStore, configuration: APIConfiguration) {
        self.store = store
        self.configuration = configuration
        self.deadlines = AnswerDeadlines(
            eventLoop: store.client.eventLoop, budget: .milliseconds(configuration.enqueueDeadlineMillis))
    }

    func respond(to request: HTTPServerRequest, with responder: HTTPResponder) {
        guard deadlines.eventLoop.inEventLoop else {
            deadlines.eventLoop.execute { self.respond(to: request, with: responder) }
            return
        }
        switch (request.method, request.path) {
        case (.POST, "/payments"):
            postPayment(request, responder)
        case (.GET, "/payments-summary"):
            summary(request, responder)
        case (.POST, "/purge-payments"):
            answer(
                responder, operation: { done in store.purge().whenComplete { done($0) } },
                respond: { result in
                    guard case .success = result else { return .error(.serviceUnavailable, "storage unavailable") }
                    return .json(.ok, #"{"message":"All payments purged."}"#)
                })
        case (.GET, "/health"):
            responder.respond(
                with: store.isConnected.map { up in
                    up ? .json(.ok, #"{"status":"ok"}"#) : .error(.serviceUnavailable, "storage unavailable")
                })
        case (_, "/payments"), (_, "/payments-summary"), (_, "/purge-payments"), (_, "/health"):
            responder(.error(.methodNotAllowed, "method not allowed"))
        default:
            responder(.error(.notFound, "not found"))
        }
    }

    private static let accepted = HTTPServerResponse(status: .accepted)

    private func postPayment(_ request: HTTPServerRequest, _ responder: HTTPResponder) {
        let parsed = request.body.withUnsafeReadableBytes { PaymentRequest.parse(body: $0) }
        switch parsed {
        case .failure(let invalid):
            responder(.error(.badRequest, invalid.message))
        case .success(let payment):
            // Valkey refuses the call if it only runs after this instant (its own clock), a
            // margin before the client gets its 503: an answer of 503 then always means "not
            // accepted", even when a stalled Valkey wakes up later and runs what was sent.
            let storeDeadline = WallClock.nowMillis() + configuration.enqueueDeadlineMillis - Self.lateMargin
            let store = self.store
            answer(
                responder, operation: { done in store.accept(payment, deadlineMillis: storeDeadline, onOutcome: done) },
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

    /// Answers with `respond`'s answer to the result of `operation`, run again while it fails with
    /// a transient Valkey error (a restart in progress) and the deadline allows, or to
    /// `ValkeyError.unavailable` at the request's deadline if there is no result by then (a
    /// stalled Valkey never answers: the client must not wait for it). Only for operations that
    /// are safe to repeat. `operation` completes on the deadlines' event loop.
    func answer<T: Sendable>(
        _ responder: HTTPResponder,
        operation: @escaping @Sendable (_ done: @escaping @Sendable (Result<T, any Error>) -> Void) -> Void,
        respond: @escaping @Sendable (Result<T, any Error>) -> HTTPServerResponse
    ) {
        let pending = deadlines.start(responder) { respond(.failure(ValkeyError.unavailable)) }
        let eventLoop = deadlines.eventLoop
        @Sendable func attempt() {
            operation { result in
                guard !pending.isAnswered else { return }
                let pause = TimeAmount.milliseconds(20)
                if case .failure(let error as ValkeyError) = result, error.isTransient,
                    eventLoop.now + pause < pending.deadline
                {
                    eventLoop.scheduleTask(in: pause) { attempt() }
                    return
                }
                pending.answer(respond(result))
            }
        }
        attempt()
    }

    private func summary(_ request: HTTPServerRequest, _ responder: HTTPResponder) {
        let window: TimeWindow
        do {
            window = try TimeWindow(query: request.rawQuery)
        } catch {
            responder(.error(.badRequest, error.message))
            return
        }
        let store = self.store
        answer(
            responder, operation: { done in store.summary(window).whenComplete { done($0) } },
            respond: { result in
                guard case .success(let summary) = result else {
                    return .error(.serviceUnavailable, "storage unavailable")
                }
                return .json(.ok, summary.json)
            })
    }
}
