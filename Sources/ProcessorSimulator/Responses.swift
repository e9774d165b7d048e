import HTTPServerKit
import NIOHTTP1
import PaymentCore

extension HTTPServerResponse {
    static let processed = HTTPServerResponse.json(
        .ok, #"{"message":"payment processed successfully"}"#)
    static let purged = HTTPServerResponse.json(.ok, #"{"message":"All payments purged."}"#)
    /// Failure mode: a 500 with an empty body.
    static let failure = HTTPServerResponse(status: .internalServerError)
    static let methodNotAllowed = HTTPServerResponse.error(.methodNotAllowed, "method not allowed")
    /// Over a limit: 429 with `Retry-After: 5`, empty body.
    static let tooManyRequests: HTTPServerResponse = {
        var headers = HTTPHeaders()
        headers.add(name: "Retry-After", value: "5")
        return HTTPServerResponse(status: .tooManyRequests, headers: headers)
    }()
}

/// The JSON bodies the simulator writes. Every value is a number, a boolean or a string that
/// needs no escaping (a validated UUID, an ISO-8601 instant, a fixed name).
enum ResponseJSON {
    static func payment(_ payment: StoredPayment) -> String {
        #"{"correlationId":"\#(payment.correlationId)","amount":\#(payment.amount),"requestedAt":"\#(Timestamp.format(millis: payment.requestedAtMillis))"}"#
    }

    static func summary(_ totals: PaymentTotals, feeRate: FeeRate) -> String {
        #"{"totalRequests":\#(totals.count),"totalAmount":\#(totals.amount),"totalFee":\#(feeRate.fee(on: totals.amount)),"feePerTransaction":\#(feeRate.description)}"#
    }

    static func health(failing: Bool, minResponseTime: Int64) -> String {
        #"{"failing":\#(failing),"minResponseTime":\#(minResponseTime)}"#
    }

    static func config(_ name: String, was: String, is value: String) -> String {
        #"{"config":"\#(name)","was":\#(was),"is":\#(value)}"#
    }
}
