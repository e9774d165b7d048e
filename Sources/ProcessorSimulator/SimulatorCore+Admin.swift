import HTTPServerKit
import NIOCore
import NIOHTTP1
import PaymentCore
import TextFormats

extension SimulatorCore {
    /// The largest delay the admin API accepts: one hour, in milliseconds.
    static let maximumDelayMillis: Int64 = 3_600_000

    /// The admin API: the route is matched first (wrong method: 405), then `X-Rinha-Token` (401).
    func admin(_ request: HTTPServerRequest) -> HTTPServerResponse {
        let expected: HTTPMethod
        switch request.path {
        case "/admin/payments-summary": expected = .GET
        case "/admin/purge-payments": expected = .POST
        default: expected = .PUT
        }
        guard request.method == expected else { return .methodNotAllowed }
        // The body is bound before the token filter runs, as ASP.NET binds before its filters.
        if expected == .PUT, let refusal = BodyBinding.refusal(request) { return refusal }
        guard request.head.headers.first(name: "X-Rinha-Token") == token else {
            return .error(.unauthorized, "invalid token")
        }
        switch request.path {
        case "/admin/payments-summary": return summary(request.rawQuery)
        case "/admin/purge-payments":
            ledger.removeAll()
            return .purged
        case "/admin/configurations/token": return setToken(request.body)
        case "/admin/configurations/delay": return setDelay(request.body)
        default: return setFailure(request.body)
        }
    }

    private func summary(_ rawQuery: Substring?) -> HTTPServerResponse {
        switch Micros.window(rawQuery) {
        case .failure(let error):
            return .error(.badRequest, error.message)
        case .success(let window):
            let totals = ledger.summary(from: window.from, to: window.to)
            return .json(.ok, ResponseJSON.summary(totals, feeRate: feeRate))
        }
    }

    private func setToken(_ body: ByteBuffer) -> HTTPServerResponse {
        guard case .string(let newToken) = Self.field("token", of: body), !newToken.isEmpty else {
            return .error(.badRequest, "token must be a non-empty string")
        }
        token = newToken
        return HTTPServerResponse(status: .noContent)
    }

    private func setDelay(_ body: ByteBuffer) -> HTTPServerResponse {
        guard case .number(let text) = Self.field("delay", of: body), let delay = Int64(text),
            delay >= 0,
            delay <= Self.maximumDelayMillis
        else {
            return .error(
                .badRequest, "delay must be an integer number of milliseconds from 0 to 3600000")
        }
        let was = delayMillis
        delayMillis = delay
        return .json(.ok, ResponseJSON.config("delay", was: String(was), is: String(delay)))
    }

    private func setFailure(_ body: ByteBuffer) -> HTTPServerResponse {
        guard case .bool(let failure) = Self.field("failure", of: body) else {
            return .error(.badRequest, "failure must be true or false")
        }
        let was = failing
        failing = failure
        return .json(.ok, ResponseJSON.config("failure", was: String(was), is: String(failure)))
    }

    private static func field(_ name: String, of body: ByteBuffer) -> JSONScanner.Value? {
        JSONObject.parse(body)?[name]
    }
}
