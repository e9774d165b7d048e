import NIOCore
import NIOHTTP1

/// One whole HTTP/1.1 request: head plus the aggregated body (at most the server's body limit).
public struct HTTPServerRequest: Sendable {
    public var head: HTTPRequestHead
    public var body: ByteBuffer

    public init(head: HTTPRequestHead, body: ByteBuffer) {
        self.head = head
        self.body = body
    }

    public var method: HTTPMethod { head.method }

    /// The path without the query string.
    public var path: Substring {
        let uri = head.uri
        if let q = uri.firstIndex(of: "?") { return uri[..<q] }
        return uri[...]
    }

    /// The raw (undecoded) query string, without the `?`.
    public var rawQuery: Substring? {
        let uri = head.uri
        guard let q = uri.firstIndex(of: "?") else { return nil }
        return uri[uri.index(after: q)...]
    }
}

/// A whole HTTP response; `body` nil means an empty body (Content-Length: 0).
public struct HTTPServerResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer?

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = HTTPHeaders(), body: ByteBuffer? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response with the given bytes.
    public static func json(_ status: HTTPResponseStatus, _ text: String) -> HTTPServerResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        return HTTPServerResponse(status: status, headers: headers, body: ByteBuffer(string: text))
    }

    /// A short JSON error: `{"error":"<message>"}`.
    public static func error(_ status: HTTPResponseStatus, _ message: String) -> HTTPServerResponse {
        var escaped = ""
        for ch in message.unicodeScalars {
            switch ch {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case _ where ch.value < 0x20: escaped += " "
            default: escaped.unicodeScalars.append(ch)
            }
        }
        return .json(status, "{\"error\":\"\(escaped)\"}")
    }
}

/// Answers one request; called on the connection's event loop, must not block it.
public typealias HTTPHandler = @Sendable (HTTPServerRequest, any EventLoop) -> EventLoopFuture<HTTPServerResponse>
