import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// A scriptable HTTP/1.1 server for tests, on 127.0.0.1 (an ephemeral port) or a Unix socket.
/// It frames requests itself (Content-Length or chunked), keeps their exact bytes, and answers
/// each one, in arrival order per connection, with whatever `answer` returns for it: a whole
/// response, raw writes (partial, malformed, a moment apart), silence, or a dropped connection,
/// optionally after a delay. One request per connection is answered at a time; a request that
/// arrives before the previous answer is complete waits, and sets `pipelined`.
public final class TestHTTPServer: Sendable {
    /// One request as it arrived.
    public struct Request: Sendable {
        /// Arrival order over the whole server, from 0.
        public var index: Int
        /// The exact bytes: head and (possibly chunked) body.
        public var raw: [UInt8]
        public var method: String
        public var uri: String
        /// `1.1` or `1.0`.
        public var version: String
        /// The request line and header lines, without the blank line that ends them.
        public var head: String
        /// The body, de-chunked.
        public var body: [UInt8]

        public var text: String { String(decoding: raw, as: UTF8.self) }
        public var bodyText: String { String(decoding: body, as: UTF8.self) }
        /// The first value of header `name` (case-insensitive).
        public func header(_ name: String) -> String? { headerValues(of: head, name).first }
        /// Every value of header `name` (case-insensitive).
        public func headers(_ name: String) -> [String] { headerValues(of: head, name) }
        /// Whether HTTP/1.1 keep-alive rules keep the connection open after the answer.
        public var keepAlive: Bool {
            let tokens = headers("connection").flatMap { $0.split(separator: ",") }.map {
                $0.trimmingSpaces.lowercased()
            }
            return version == "1.1" ? !tokens.contains("close") : tokens.contains("keep-alive")
        }
    }

    /// The raw bytes of an answer's body; a string literal is its UTF-8.
    public struct Bytes: Sendable, ExpressibleByStringLiteral {
        public var bytes: [UInt8]
        public init(_ bytes: [UInt8]) { self.bytes = bytes }
        public init(_ text: String) { self.bytes = Array(text.utf8) }
        public init(stringLiteral text: String) { self.init(text) }
    }

    /// How one request is answered.
    public enum Answer: Sendable {
        /// `HTTP/1.1 <code>` with `headers`, then `Content-Length` and `body`, or with `chunks`
        /// given, `Transfer-Encoding: chunked` and one chunk per element (no body to a HEAD, no
        /// body nor framing header with a 1xx, 204 or 304).
        /// The connection is closed afterwards if the request did not keep it alive.
        case status(Int, headers: [(String, String)] = [], body: Bytes = "", chunks: [String]? = nil)
        /// Each string written and flushed on its own, 5 ms apart, then (if `thenClose`) the
        /// connection closed without a word.
        case writes([String], thenClose: Bool = false)
        /// Never answers (the connection stays open).
        case hang
        /// Closes the connection without answering.
        case close
        /// `answer`, `milliseconds` later.
        indirect case after(milliseconds: Int, Answer)
    }

    /// Where the server listens.
    public enum Address: Sendable {
        case tcp
        case unix(path: String)
    }

    private let channel: any Channel
    private let ownGroup: MultiThreadedEventLoopGroup?
    private let state: NIOLockedValueBox<State>
    /// The Unix socket path, or nil on TCP.
    public let path: String?

    struct State {
        var requests: [Request] = []
        var requestCount = 0
        var connections = 0
        var pipelined = false
        var children: [any Channel] = []
        var stopped = false
    }

    /// The bound TCP port (0 on a Unix socket).
    public var port: Int { channel.localAddress?.port ?? 0 }
    /// `http://127.0.0.1:<port>`.
    public var url: String { "http://127.0.0.1:\(port)" }
    /// Every request so far (empty if started with `recordsRequests: false`).
    public var requests: [Request] { state.withLockedValue { $0.requests } }
    /// How many requests have been answered or are being answered.
    public var requestCount: Int { state.withLockedValue { $0.requestCount } }
    /// How many connections were accepted.
    public var connections: Int { state.withLockedValue { $0.connections } }
    /// Whether a client ever sent a request before the previous answer on its connection was complete.
    public var pipelined: Bool { state.withLockedValue { $0.pipelined } }

    /// Starts listening. With no `group` it runs on a thread of its own, stopped by `stop`.
    /// `recordsRequests: false` keeps only counts (for tests that measure memory).
    public static func start(
        _ address: Address = .tcp, group: (any EventLoopGroup)? = nil, recordsRequests: Bool = true,
        answer: @escaping @Sendable (Request) -> Answer
    ) async throws -> TestHTTPServer {
        let ownGroup = group == nil ? MultiThreadedEventLoopGroup(numberOfThreads: 1) : nil
        let state = NIOLockedValueBox(State())
        let bootstrap = ServerBootstrap(group: group ?? ownGroup!)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                state.withLockedValue {
                    $0.connections += 1
                    $0.children.append(channel)
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Handler(state: state, records: recordsRequests, answer: answer))
                }
            }
        do {
            switch address {
            case .tcp:
                let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
                return TestHTTPServer(channel: channel, ownGroup: ownGroup, state: state, path: nil)
            case .unix(let path):
                unlink(path)
                let channel = try await bootstrap.bind(unixDomainSocketPath: path).get()
                return TestHTTPServer(channel: channel, ownGroup: ownGroup, state: state, path: path)
            }
        } catch {
            try? await ownGroup?.shutdownGracefully()
            throw error
        }
    }

    private init(
        channel: any Channel, ownGroup: MultiThreadedEventLoopGroup?, state: NIOLockedValueBox<State>, path: String?
    ) {
        self.channel = channel
        self.ownGroup = ownGroup
        self.state = state
        self.path = path
    }

    /// Stops listening, drops every connection and removes the socket file, like a killed
    /// process. Idempotent.
    public func stop() async {
        let children: [any Channel]? = state.withLockedValue {
            if $0.stopped { return nil }
            $0.stopped = true
            return $0.children
        }
        guard let children else { return }
        try? await channel.close()
        for child in children { try? await child.close() }
        if let path { unlink(path) }
        try? await ownGroup?.shutdownGracefully()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let state: NIOLockedValueBox<State>
        let records: Bool
        let answer: @Sendable (Request) -> Answer
        var buffer: [UInt8] = []
        var answering = false

        init(state: NIOLockedValueBox<State>, records: Bool, answer: @escaping @Sendable (Request) -> Answer) {
            self.state = state
            self.records = records
            self.answer = answer
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            buffer += unwrapInboundIn(data).readableBytesView
            serveNext(context: context)
        }

        func channelInactive(context: ChannelHandlerContext) {
            let channel = context.channel
            state.withLockedValue { state in state.children.removeAll { $0 === channel } }
            context.fireChannelInactive()
        }

        private func serveNext(context: ChannelHandlerContext) {
            let framing = frameMessage(buffer[...], bodyless: { _ in false }, closeDelimited: false, atEnd: false)
            switch framing {
            case .incomplete:
                return
            case .invalid:
                if !answering { serveInvalid(context: context) }
            case .complete(let headEnd, let end, let body):
                if answering {
                    state.withLockedValue { $0.pipelined = true }
                    return
                }
                let raw = Array(buffer[..<end])
                buffer.removeFirst(end)
                let headText = String(decoding: raw[..<(headEnd - 4)], as: UTF8.self)
                let line = splitFirstLine(headText).first.split(separator: " ", omittingEmptySubsequences: false)
                guard line.count == 3, line[2].hasPrefix("HTTP/") else { return serveInvalid(context: context) }
                var request = Request(
                    index: 0, raw: raw, method: String(line[0]), uri: String(line[1]),
                    version: String(line[2].dropFirst(5)),
                    head: headText, body: body)
                state.withLockedValue {
                    request.index = $0.requestCount
                    $0.requestCount += 1
                    if records { $0.requests.append(request) }
                }
                answering = true
                perform(answer(request), for: request, context: context)
            }
        }

        /// A 400 and a close, for bytes that are not a request.
        private func serveInvalid(context: ChannelHandlerContext) {
            answering = true
            context.writeAndFlush(
                wrapOutboundOut(
                    ByteBuffer(string: "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")),
                promise: nil)
            context.close(promise: nil)
        }

        private func perform(_ answer: Answer, for request: Request, context: ChannelHandlerContext) {
            switch answer {
            case .hang:
                return
            case .close:
                context.close(promise: nil)
            case .after(let milliseconds, let later):
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(milliseconds))) {
                    self.perform(later, for: request, context: context)
                }
            case .writes(let parts, let thenClose):
                write(parts[...], thenClose: thenClose, context: context)
            case .status(let code, let headers, let body, let chunks):
                var out = ByteBuffer(
                    string: "HTTP/1.1 \(code) \(HTTPResponseStatus(statusCode: code).reasonPhrase)\r\n")
                for (name, value) in headers { out.writeString("\(name): \(value)\r\n") }
                let bodyless = request.method == "HEAD"
                if (100..<200).contains(code) || code == 204 || code == 304 {
                    out.writeString("\r\n")  // no body, and no framing headers (as NIO's encoder does)
                } else if let chunks {
                    out.writeString("Transfer-Encoding: chunked\r\n\r\n")
                    if !bodyless {
                        for chunk in chunks where !chunk.isEmpty {
                            out.writeString(String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n")
                        }
                        out.writeString("0\r\n\r\n")
                    }
                } else {
                    out.writeString("Content-Length: \(body.bytes.count)\r\n\r\n")
                    if !bodyless { out.writeBytes(body.bytes) }
                }
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
                finish(closing: !request.keepAlive, context: context)
            }
        }

        private func write(_ parts: ArraySlice<String>, thenClose: Bool, context: ChannelHandlerContext) {
            guard let first = parts.first else { return finish(closing: thenClose, context: context) }
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: first)), promise: nil)
            let rest = parts.dropFirst()
            context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(rest.isEmpty ? 0 : 5)) {
                self.write(rest, thenClose: thenClose, context: context)
            }
        }

        private func finish(closing: Bool, context: ChannelHandlerContext) {
            if closing {
                context.close(promise: nil)
                return
            }
            answering = false
            serveNext(context: context)
        }
    }
}
