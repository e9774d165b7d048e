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

/// Answers one request through its `HTTPResponder`; called on the connection's event loop, must
/// not block it.
public typealias HTTPHandler = @Sendable (HTTPServerRequest, HTTPResponder) -> Void

/// Where the answer to one request goes. Call it once; the first answer counts and any later one
/// is ignored. Called on the connection's event loop, it writes the answer there and then, in
/// the same tick (the API answers in the tick Valkey's reply arrives, with no future between);
/// called from elsewhere, it hops there first.
public struct HTTPResponder: Sendable {
    private enum Target {
        /// The `request`th request of a connection.
        case connection(NIOLoopBound<HTTPConnectionHandler>, request: Int)
        case deliver(@Sendable (HTTPServerResponse) -> Void)
    }

    /// The connection's event loop.
    public let eventLoop: any EventLoop
    private let target: Target

    init(connection: NIOLoopBound<HTTPConnectionHandler>, request: Int) {
        self.eventLoop = connection.eventLoop
        self.target = .connection(connection, request: request)
    }

    /// A responder that hands the answer to `deliver` on `eventLoop` (for tests and adapters).
    public init(eventLoop: any EventLoop, deliver: @escaping @Sendable (HTTPServerResponse) -> Void) {
        self.eventLoop = eventLoop
        self.target = .deliver(deliver)
    }

    public func callAsFunction(_ response: HTTPServerResponse) {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { self(response) }
            return
        }
        switch target {
        case .connection(let connection, let request): connection.value.answer(response, request: request)
        case .deliver(let deliver): deliver(response)
        }
    }

    /// Answers with what `future` holds; a failed future is answered 500.
    public func respond(with future: EventLoopFuture<HTTPServerResponse>) {
        future.whenComplete { result in
            switch result {
            case .success(let response): self(response)
            case .failure: self(.error(.internalServerError, "internal error"))
            }
        }
    }
}
