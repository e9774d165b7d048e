import HTTPServerKit
import NIOCore
import NIOHTTP1
import NIOPosix

/// Answers one request. `clientGone` succeeds if the connection closes before the answer is
/// written (it fails once the request is over): work still waiting for the client must then
/// be dropped, as ASP.NET drops a request whose `RequestAborted` fires while it waits.
typealias KestrelHandler =
    @Sendable (HTTPServerRequest, _ clientGone: EventLoopFuture<Void>) -> EventLoopFuture<HTTPServerResponse>

/// The request is over; `clientGone` will never succeed.
struct RequestFinished: Error {}

/// The simulator's HTTP/1.1 server: NIO's request parser, and responses written byte for byte
/// as Kestrel writes them (see `KestrelFraming`). Keep-alive and pipelining aware: pipelined
/// requests are answered one at a time, in order, and those not started when the client leaves
/// are never run.
final class KestrelServer: Sendable {
    let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    var port: Int? { channel.localAddress?.port }

    static func start(
        host: String, port: Int, group: any EventLoopGroup, framing: ResponseFraming,
        maxBodySize: Int = 4096, handler: @escaping KestrelHandler
    ) async throws -> KestrelServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try sync.addHandler(
                        KestrelConnectionHandler(framing: framing, maxBodySize: maxBodySize, handler: handler))
                }
            }
            .bind(host: host, port: port).get()
        return KestrelServer(channel: channel)
    }

    func close() async {
        try? await channel.close()
    }
}

/// One connection: collects each request, runs them one after the other, writes the answers.
final class KestrelConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    private enum Item {
        case request(HTTPServerRequest)
        /// Refused before the handler: answered with an empty body, then the connection closes.
        case refusal(HTTPResponseStatus)
    }

    private enum State {
        case idle
        case receiving(HTTPRequestHead, ByteBuffer)
        /// A refusal is queued: nothing more is read from this connection.
        case stopped
    }

    private let framing: ResponseFraming
    private let maxBodySize: Int
    private let handler: KestrelHandler
    private var state = State.idle
    private var pending = CircularBuffer<Item>()
    private var busy = false
    /// The running request's `clientGone`.
    private var clientGone: EventLoopPromise<Void>?

    init(framing: ResponseFraming, maxBodySize: Int, handler: @escaping KestrelHandler) {
        self.framing = framing
        self.maxBodySize = maxBodySize
        self.handler = handler
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard case .idle = state else { return }
            // Kestrel refuses an HTTP/1.1 request without Host before reading its body.
            if head.version == .http1_1, !head.headers.contains(name: "Host") {
                stop(.badRequest, context: context)
                return
            }
            if let length = head.headers.first(name: "Content-Length").flatMap(Int.init), length > maxBodySize {
                stop(.payloadTooLarge, context: context)
                return
            }
            state = .receiving(head, context.channel.allocator.buffer(capacity: 0))
        case .body(var part):
            guard case .receiving(let head, var body) = state else { return }
            if body.readableBytes + part.readableBytes > maxBodySize {
                stop(.payloadTooLarge, context: context)
                return
            }
            state = .idle  // avoids a copy-on-write of `body`
            body.writeBuffer(&part)
            state = .receiving(head, body)
        case .end:
            guard case .receiving(let head, let body) = state else { return }
            state = .idle
            pending.append(.request(HTTPServerRequest(head: head, body: body)))
            runNext(context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is HTTPParserError {
            if case .stopped = state { return }
            stop(.badRequest, context: context)
        } else {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        clientGone?.succeed()
        clientGone = nil
        pending.removeAll()
        context.fireChannelInactive()
    }

    private func stop(_ status: HTTPResponseStatus, context: ChannelHandlerContext) {
        state = .stopped
        pending.append(.refusal(status))
        runNext(context: context)
    }

    private func runNext(context: ChannelHandlerContext) {
        guard !busy, context.channel.isActive, let item = pending.popFirst() else { return }
        switch item {
        case .refusal(let status):
            write(HTTPServerResponse(status: status), context: context, close: true, framing: .contentLength)
        case .request(let request):
            busy = true
            let gone = context.eventLoop.makePromise(of: Void.self)
            clientGone = gone
            let keepAlive = request.head.isKeepAlive
            // HTTP/1.0 has no chunked encoding.
            let framing = request.head.version == .http1_1 ? self.framing : .contentLength
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            handler(request, gone.futureResult).hop(to: context.eventLoop).whenComplete { result in
                let (handler, context) = bound.value
                handler.finish(result, gone: gone, keepAlive: keepAlive, framing: framing, context: context)
            }
        }
    }

    private func finish(
        _ result: Result<HTTPServerResponse, Error>, gone: EventLoopPromise<Void>, keepAlive: Bool,
        framing: ResponseFraming, context: ChannelHandlerContext
    ) {
        // Unless the client already left (which completed it), the request ends its `clientGone`.
        if clientGone?.futureResult === gone.futureResult {
            clientGone = nil
            gone.fail(RequestFinished())
        }
        busy = false
        let response: HTTPServerResponse
        switch result {
        case .success(let answer): response = answer
        case .failure: response = .error(.internalServerError, "internal error")
        }
        write(response, context: context, close: !keepAlive, framing: framing)
        if keepAlive { runNext(context: context) }
    }

    /// Each buffer is its own write and flush, as Kestrel sends the last chunk only when the
    /// request ends: a client must not expect the whole answer in one read.
    private func write(
        _ response: HTTPServerResponse, context: ChannelHandlerContext, close: Bool, framing: ResponseFraming
    ) {
        guard context.channel.isActive else { return }
        let writes = KestrelFraming.encode(
            response, date: KestrelFraming.httpDateNow(), framing: framing, close: close)
        for buffer in writes.dropLast() {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        }
        guard let last = writes.last else { return }
        let written = context.writeAndFlush(wrapOutboundOut(last))
        if close {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
