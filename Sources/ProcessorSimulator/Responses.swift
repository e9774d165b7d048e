import HTTPServerKit
import NIOCore
import NIOHTTP1
import PaymentCore

extension HTTPServerResponse {
    static let processed = HTTPServerResponse.json(
        .ok, #"{"message":"payment processed successfully"}"#)
    static let purged = HTTPServerResponse.json(.ok, #"{"message":"All payments purged."}"#)
    /// Failure mode: a 500 with an empty body.
    static let failure = HTTPServerResponse(status: .internalServerError)
    /// No route, or no such payment: an empty 404, as ASP.NET answers both.
    static let notFound = HTTPServerResponse(status: .notFound)
    /// A known route with another method: an empty 405, as ASP.NET's routing answers it.
    static let methodNotAllowed = HTTPServerResponse(status: .methodNotAllowed)
    /// Over a limit: 429 with `Retry-After: 5` and a short plain-text body without a
    /// `Content-Type`, as the real processor's rejection handler writes it (its own words differ).
    static let tooManyRequests: HTTPServerResponse = {
        var headers = HTTPHeaders()
        headers.add(name: "Retry-After", value: "5")
        return HTTPServerResponse(
            status: .tooManyRequests, headers: headers, body: ByteBuffer(string: "Too many requests. Try again later."))
    }()
}

/// The JSON bodies the simulator writes. Every value is a number, a boolean or a string that
/// needs no escaping (a validated UUID, an ISO-8601 instant, a fixed name). `requestedAt` is
/// written as the real processor writes what it reads back from Postgres (see `Micros`).
enum ResponseJSON {
    static func payment(_ payment: StoredPayment) -> String {
        #"{"correlationId":"\#(payment.correlationId)","amount":\#(payment.amount),"requestedAt":"\#(Micros.formatDotNet(payment.requestedAtMicros))"}"#
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
