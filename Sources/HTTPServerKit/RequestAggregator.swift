import NIOCore
import NIOHTTP1

/// Collects a request's head and body parts into one `HTTPServerRequest`, hands it to the
/// application handler and writes the answer. Pipelined requests stay in order because NIO's
/// `HTTPServerPipelineHandler` sits in front and releases the next request only after the answer.
/// A body over `maxBodySize` gets a 413 and the connection is closed (the rest is not read).
/// Not NIO's `NIOHTTPServerRequestAggregator`: that one answers an oversized body itself with an
/// empty 413, and every error of these servers carries a short JSON message; the aggregation
/// here is the same few lines, and running the handler and writing its answer is the rest.
public final class RequestAggregator: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case receiving(HTTPRequestHead, ByteBuffer)
        case discarding  // body too large: answer sent, waiting to close
    }

    private let maxBodySize: Int
    private let handler: HTTPHandler
    private var state: State = .idle

    public init(maxBodySize: Int, handler: @escaping HTTPHandler) {
        self.maxBodySize = maxBodySize
        self.handler = handler
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > maxBodySize {
                self.state = .discarding
                self.write(context: context, response: .error(.payloadTooLarge, "body too large"), keepAlive: false)
                return
            }
            self.state = .receiving(head, context.channel.allocator.buffer(capacity: 0))
        case .body(var part):
            guard case .receiving(let head, var body) = self.state else { return }
            if body.readableBytes + part.readableBytes > maxBodySize {
                self.state = .discarding
                self.write(context: context, response: .error(.payloadTooLarge, "body too large"), keepAlive: false)
                return
            }
            self.state = .idle  // avoid a copy-on-write of `body`
            body.writeBuffer(&part)
            self.state = .receiving(head, body)
        case .end:
            guard case .receiving(let head, let body) = self.state else { return }
            self.state = .idle
            let keepAlive = head.isKeepAlive
            let request = HTTPServerRequest(head: head, body: body)
            let eventLoop = context.eventLoop
            let future = handler(request, eventLoop)
            let boundSelf = NIOLoopBound(self, eventLoop: eventLoop)
            let boundContext = NIOLoopBound(context, eventLoop: eventLoop)
            future.hop(to: eventLoop).whenComplete { result in
                let response: HTTPServerResponse
                switch result {
                case .success(let r): response = r
                case .failure: response = .error(.internalServerError, "internal error")
                }
                boundSelf.value.write(context: boundContext.value, response: response, keepAlive: keepAlive)
            }
        }
    }

    private func write(context: ChannelHandlerContext, response: HTTPServerResponse, keepAlive: Bool) {
        guard context.channel.isActive else { return }
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body?.readableBytes ?? 0))
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: .http1_1, status: response.status, headers: headers)
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        if let body = response.body, body.readableBytes > 0 {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        if keepAlive {
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is HTTPParserError {
            // Malformed input: answer 400 once and close; never crash.
            if case .discarding = state { return }
            self.state = .discarding
            self.write(context: context, response: .error(.badRequest, "malformed HTTP request"), keepAlive: false)
        } else {
            context.close(promise: nil)
        }
    }
}
