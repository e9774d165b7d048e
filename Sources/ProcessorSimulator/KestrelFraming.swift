import HTTPServerKit
import NIOCore
import NIOHTTP1
import PaymentCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a response body is framed on the wire.
public enum ResponseFraming: String, Sendable, CaseIterable {
    /// As Kestrel frames what ASP.NET writes without a known length (every JSON result of the
    /// real processor): `Transfer-Encoding: chunked`, the head and the one data chunk in a first
    /// write, the last chunk `0\r\n\r\n` in a second one, when the request ends.
    case chunked
    /// One write with `Content-Length`: what a client that cannot read chunks needs.
    case contentLength = "content-length"
}

/// Serializes responses byte for byte as Kestrel does. Header order is Kestrel's: Content-Length,
/// Connection, Content-Type, Date, Server, then Retry-After and Transfer-Encoding.
enum KestrelFraming {
    /// The writes for one response, in order (one or two buffers). A `Content-Type` header of
    /// `application/json` is written as ASP.NET writes it, with `; charset=utf-8`; a body
    /// without a `Content-Type` is plain text (the rate limiter's 429), sent without one.
    static func encode(
        _ response: HTTPServerResponse, date: String, framing: ResponseFraming, close: Bool
    ) -> [ByteBuffer] {
        let status = response.status
        var head = "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n"
        let body = response.body.flatMap { $0.readableBytes > 0 ? $0 : nil }
        let chunked = body != nil && framing == .chunked
        if let body, !chunked {
            head += "Content-Length: \(body.readableBytes)\r\n"
        } else if body == nil, status.mayHaveBody {
            head += "Content-Length: 0\r\n"
        }
        if close { head += "Connection: close\r\n" }
        if body != nil, let type = response.headers.first(name: "Content-Type") {
            head += "Content-Type: \(type == "application/json" ? "application/json; charset=utf-8" : type)\r\n"
        }
        head += "Date: \(date)\r\nServer: Kestrel\r\n"
        if let retryAfter = response.headers.first(name: "Retry-After") {
            head += "Retry-After: \(retryAfter)\r\n"
        }
        if chunked { head += "Transfer-Encoding: chunked\r\n" }
        head += "\r\n"
        var first = ByteBuffer(string: head)
        guard var body else { return [first] }
        if !chunked {
            first.writeBuffer(&body)
            return [first]
        }
        first.writeString(String(body.readableBytes, radix: 16) + "\r\n")
        first.writeBuffer(&body)
        first.writeString("\r\n")
        return [first, ByteBuffer(string: "0\r\n\r\n")]
    }

    private static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    private static let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    /// The `Date` header value (RFC 1123, GMT) for an instant in whole seconds since the epoch.
    static func httpDate(epochSeconds: Int64) -> String {
        let secondOfDay = ((epochSeconds % 86_400) + 86_400) % 86_400
        let days = (epochSeconds - secondOfDay) / 86_400
        let (year, month, day) = Timestamp.civilFromDays(days)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let weekday = weekdays[Int(((days % 7) + 7) % 7)]
        return
            "\(weekday), \(two(day)) \(months[Int(month - 1)]) \(year) \(two(secondOfDay / 3600)):\(two(secondOfDay % 3600 / 60)):\(two(secondOfDay % 60)) GMT"
    }

    static func httpDateNow() -> String {
        httpDate(epochSeconds: Int64(time(nil)))
    }
}

extension HTTPResponseStatus {
    /// Kestrel sends no `Content-Length: 0` on statuses that cannot carry a body.
    var mayHaveBody: Bool {
        switch code {
        case 100..<200, 204, 304: return false
        default: return true
        }
    }
}
