import HTTPServerKit
import NIOCore
import PaymentCore
import TextFormats

extension SimulatorCore {
    /// `POST /payments`: admission (slot, queue or 429), then the body, then the delay, then
    /// the failure check, then the insert. A queued call whose client leaves before it gets a
    /// slot is dropped and never run; once a call has its slot nothing depends on the client's
    /// connection: a client that leaves during the delay still gets its payment stored.
    func postPayment(_ request: HTTPServerRequest, clientGone: EventLoopFuture<Void>) -> EventLoopFuture<
        HTTPServerResponse
    > {
        let id = makeWaiterID()
        var waiter: EventLoopPromise<Void>?
        let admission = paymentSlots.acquire {
            let promise = loop.makePromise(of: Void.self)
            waiter = promise
            return (id, promise)
        }
        switch admission {
        case .run:
            return processHoldingSlot(request)
        case .queued:
            let bound = self.bound
            clientGone.hop(to: loop).whenSuccess { bound.value.paymentCallerLeft(id) }
            return waiter!.futureResult.flatMap { bound.value.processHoldingSlot(request) }
        case .rejected:
            return answer(.tooManyRequests)
        }
    }

    private func paymentCallerLeft(_ id: UInt64) {
        paymentSlots.cancel(where: { $0.id == id })?.promise.fail(ClientGone())
    }

    /// Runs with a slot taken, and gives it back (to the next waiter, if any) when done.
    private func processHoldingSlot(_ request: HTTPServerRequest) -> EventLoopFuture<
        HTTPServerResponse
    > {
        let result = process(request)
        let bound = self.bound
        result.whenComplete { _ in bound.value.releasePaymentSlot() }
        return result
    }

    private func releasePaymentSlot() {
        let next = paymentSlots.release()
        next?.promise.succeed()
    }

    private func process(_ request: HTTPServerRequest) -> EventLoopFuture<HTTPServerResponse> {
        let payment: StoredPayment
        if let refusal = BodyBinding.refusal(request) { return answer(refusal) }
        switch PaymentBody.parse(request.body) {
        case .success(let parsed): payment = parsed
        case .failure(let error): return answer(.error(.badRequest, error.message))
        }
        let delay = delayMillis
        if delay <= 0 { return answer(complete(payment)) }
        let bound = self.bound
        return loop.scheduleTask(in: .milliseconds(delay)) { bound.value.complete(payment) }
            .futureResult
    }

    /// After the delay: the failure mode is read now, not when the request arrived.
    private func complete(_ payment: StoredPayment) -> HTTPServerResponse {
        if failing { return .failure }
        switch ledger.insert(payment) {
        case .inserted: return .processed
        case .duplicate: return .error(.unprocessableEntity, "payment already exists")
        case .tooLarge: return .error(.badRequest, "amount too large")
        }
    }
}

/// What ASP.NET's minimal APIs do before reading a JSON body parameter: a request that carries
/// a body must say it is JSON (`application/json` or any `+json` type, parameters allowed),
/// else 415; a request without a body gets a 400.
enum BodyBinding {
    static func refusal(_ request: HTTPServerRequest) -> HTTPServerResponse? {
        let headers = request.head.headers
        let hasBody =
            request.body.readableBytes > 0 || headers.contains(name: "Transfer-Encoding")
            || headers.first(name: "Content-Length").flatMap(Int.init).map { $0 > 0 } == true
        guard hasBody else { return .error(.badRequest, "a JSON body is required") }
        guard isJSON(headers.first(name: "Content-Type")) else {
            return .error(.unsupportedMediaType, "Content-Type must be application/json")
        }
        return nil
    }

    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
            .trimmingSpaces().lowercased()
        let parts = mediaType.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == "application" else { return false }
        return parts[1] == "json" || parts[1].hasSuffix("+json")
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return text
    }
}

/// A rejected body, with the short message sent back in the 400.
struct BadRequest: Error, Equatable {
    var message: String
}

/// A request body read as one JSON object, member by member (a repeated key keeps its last value).
enum JSONObject {
    static func parse(_ body: ByteBuffer) -> [String: JSONScanner.Value]? {
        guard let members = JSONScanner.parseObject(body.readableBytesView) else { return nil }
        return Dictionary(members, uniquingKeysWith: { _, last in last })
    }
}

/// The `POST /payments` body: `{"correlationId": UUID, "amount": decimal, "requestedAt": ISO-8601}`.
enum PaymentBody {
    static func parse(_ body: ByteBuffer) -> Result<StoredPayment, BadRequest> {
        guard let object = JSONObject.parse(body) else {
            return .failure(BadRequest(message: "body must be a JSON object"))
        }
        return parse(object)
    }

    static func parse(_ object: [String: JSONScanner.Value]) -> Result<StoredPayment, BadRequest> {
        guard case .string(let id) = object["correlationId"], CorrelationID.isValid(id) else {
            return .failure(BadRequest(message: "correlationId must be a UUID"))
        }
        guard case .number(let amountText) = object["amount"], let amount = Money.parse(amountText)
        else {
            return .failure(
                BadRequest(message: "amount must be a non-negative decimal with at most 2 decimals"))
        }
        guard case .string(let requestedAt) = object["requestedAt"], let micros = Micros.parse(requestedAt)
        else {
            return .failure(BadRequest(message: "requestedAt must be an ISO-8601 timestamp"))
        }
        return .success(
            StoredPayment(correlationId: id.lowercased(), amount: amount, requestedAtMicros: micros))
    }
}
