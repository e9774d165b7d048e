import HTTPWire
import NIOCore
import NIOHTTP1

/// One connection of `HTTPServer`: frames requests with HTTPWire's `RequestFramer`, hands each
/// whole request to the application and writes its answer as one buffer.
///
/// By hand rather than NIOHTTP1's decoder, `HTTPServerPipelineHandler` and encoder, because this
/// is every payment's hop: those built a `String` per header field and a head object per message,
/// and the pipeline handler stopped and resumed reading around every answer (about two
/// `epoll_ctl` calls per request, counted with `strace -c` at 500 requests/s; none here). Here a
/// request that arrives in one read is framed in place, its body is a slice of that read's
/// buffer, and reading never stops unless pipelined bytes pile up. The API used 0.81-0.83x the
/// CPU per request after the change (`tools/bench-api`, interleaved runs; docs/api-bench.md).
///
/// Requests are answered one at a time, in order: the bytes of pipelined requests wait until the
/// answer before them is written, up to `maxBufferedBytes`, past which the connection stops
/// reading. Header fields are used for framing only and not handed on (`HTTPServerRequest.head`
/// carries the method, the target and the version). Malformed or oversized input gets its status
/// with a short JSON error, and the connection closes.
final class HTTPConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let handler: HTTPHandler
    private let activity: ConnectionActivity?
    private let budget: BufferedBytesBudget?
    /// Bytes of `buffered` taken from `budget`.
    private var charged = 0
    private var reportedIdle = true
    private var framer: RequestFramer
    /// What was read and not yet consumed; nil when empty, so that a request that came in one
    /// read is framed in that read's own buffer, without a copy.
    private var buffered: ByteBuffer?
    /// The head of the request being answered; nil between requests. How its answer is written
    /// (kept open or not, with a body or not, which Connection header) follows from it.
    private var answering: RequestHead?
    /// Set once an answer that closes the connection is on its way: nothing more is read.
    private var closing = false
    private var quiescing = false
    /// A `read` held back while too many pipelined bytes wait.
    private var readHeld = false
    /// Guards `frameBuffered` against re-entry from an answer that completes synchronously.
    private var framing = false
    /// Counts the requests started, so that an answer is taken only for the request it was for.
    private var requests = 0
    /// This handler's context, for answers that come later (`answer`); nil once removed.
    private var context: ChannelHandlerContext?

    var maxBufferedBytes: Int { 2 * (framer.maxHeaderBytes + framer.maxBodyBytes) }

    /// `activity` tells a connection limit whether this connection is idle; `budget` bounds the
    /// unfinished requests of all connections together (past it: 503, and the connection closes).
    init(
        maxHeaderBytes: Int, maxBodyBytes: Int, activity: ConnectionActivity? = nil,
        budget: BufferedBytesBudget? = nil, handler: @escaping HTTPHandler
    ) {
        self.framer = RequestFramer(maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes)
        self.activity = activity
        self.budget = budget
        self.handler = handler
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        budget?.release(charged)
        charged = 0
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var bytes = unwrapInboundIn(data)
        if buffered == nil {
            buffered = bytes
        } else {
            buffered!.writeBuffer(&bytes)
        }
        frameBuffered(context: context)
        account(context: context)
    }

    func read(context: ChannelHandlerContext) {
        if (buffered?.readableBytes ?? 0) >= maxBufferedBytes {
            readHeld = true
            return
        }
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        quiescing = true
        // An answer in progress closes the connection once written; an idle one closes now.
        if answering == nil { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Frames and starts the next request if none is being answered; loops rather than recursing
    /// when answers complete synchronously, so that a burst of pipelined requests stays flat.
    private func frameBuffered(context: ChannelHandlerContext) {
        guard !framing else { return }
        framing = true
        defer { framing = false }
        while answering == nil, !closing, let bytes = buffered, bytes.readableBytes > 0 {
            let outcome = bytes.withUnsafeReadableBytes { framer.parse($0) }
            switch outcome {
            case .incomplete:
                return
            case .sendContinue:
                context.writeAndFlush(wrapOutboundOut(Self.continueBytes(context.channel.allocator)), promise: nil)
                return
            case .failed(let error):
                closing = true
                buffered = nil
                write(.error(error.status, error.message), to: nil, keepOpen: false, context: context)
                return
            case .complete(let head, let length):
                framer.reset()
                let request = Self.request(bytes, head: head, length: length)
                consume(length, context: context)
                start(request, head: head, context: context)
            }
        }
    }

    private func consume(_ length: Int, context: ChannelHandlerContext) {
        buffered!.moveReaderIndex(forwardBy: length)
        if buffered!.readableBytes == 0 {
            buffered = nil
        } else if buffered!.readerIndex > 4096 {
            buffered!.discardReadBytes()
        }
        if readHeld, (buffered?.readableBytes ?? 0) < maxBufferedBytes {
            readHeld = false
            context.read()
        }
    }

    private func start(_ request: HTTPServerRequest?, head: RequestHead, context: ChannelHandlerContext) {
        answering = head
        requests &+= 1
        guard let request else {
            // Only a chunked body the framer accepted can fail here; it cannot, but a 400 is
            // the safe answer if it ever did.
            finish(.error(.badRequest, "malformed HTTP request"), context: context)
            return
        }
        let responder = HTTPResponder(connection: NIOLoopBound(self, eventLoop: context.eventLoop), request: requests)
        handler(request, responder)
    }

    /// The answer to the `request`th request, from its `HTTPResponder`, on the event loop.
    func answer(_ response: HTTPServerResponse, request: Int) {
        guard request == requests, answering != nil, let context else { return }
        finish(response, context: context)
    }

    private func finish(_ response: HTTPServerResponse, context: ChannelHandlerContext) {
        guard let head = answering else { return }
        answering = nil
        let keepOpen = head.keepAlive && !quiescing
        if !keepOpen { closing = true }
        // Idle before the answer leaves, not after: its client may open its next connection as
        // soon as it has read it, and that one may need this one's place.
        reportActivity()
        write(response, to: head, keepOpen: keepOpen, context: context)
        if keepOpen { frameBuffered(context: context) }
        account(context: context)
    }

    /// Charges what stays buffered to the budget (refusing the connection if it does not fit),
    /// then reports whether the connection is idle.
    private func account(context: ChannelHandlerContext) {
        if let budget {
            let now = buffered?.readableBytes ?? 0
            if now > charged, !closing {
                guard budget.charge(now - charged) else {
                    closing = true
                    buffered = nil
                    budget.release(charged)
                    charged = 0
                    write(.error(.serviceUnavailable, "server busy"), to: nil, keepOpen: false, context: context)
                    return
                }
                charged = now
            } else if now < charged {
                budget.release(charged - now)
                charged = now
            }
        }
        reportActivity()
    }

    /// Tells the connection limit whether the connection is idle (between requests, nothing of
    /// the next one received).
    private func reportActivity() {
        guard let activity else { return }
        let idle = answering == nil && buffered == nil
        if idle != reportedIdle {
            reportedIdle = idle
            activity.set(idle: idle)
        }
    }

    /// Writes the answer to the request `head` (nil: input that never made a request).
    private func write(
        _ response: HTTPServerResponse, to head: RequestHead?, keepOpen: Bool, context: ChannelHandlerContext
    ) {
        guard context.channel.isActive else { return }
        let bytes = response.encoded(
            keepAlive: keepOpen, clientIsHTTP10: head?.isHTTP10 ?? false, withBody: head?.isHeadMethod != true,
            allocator: context.channel.allocator)
        if keepOpen {
            context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(bytes)).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    private static func continueBytes(_ allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: 25)
        out.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
        return out
    }

    /// The request `bytes[..<length]` framed as `head`, or nil if its chunked body does not decode.
    static func request(_ bytes: ByteBuffer, head: RequestHead, length: Int) -> HTTPServerRequest? {
        let (method, uri) = bytes.withUnsafeReadableBytes { p in
            (
                HTTPMethod(rawValue: String(decoding: UnsafeRawBufferPointer(rebasing: p[head.method]), as: UTF8.self)),
                String(decoding: UnsafeRawBufferPointer(rebasing: p[head.target]), as: UTF8.self)
            )
        }
        let version: HTTPVersion = head.isHTTP10 ? .http1_0 : .http1_1
        let requestHead = HTTPRequestHead(version: version, method: method, uri: uri)
        let start = bytes.readerIndex
        switch head.framing {
        case .none, .untilClose:
            return HTTPServerRequest(head: requestHead, body: ByteBuffer())
        case .length(let count):
            return HTTPServerRequest(head: requestHead, body: bytes.getSlice(at: start + head.headEnd, length: count)!)
        case .chunked:
            var body = ByteBuffer()
            let end = bytes.withUnsafeReadableBytes { p in
                body.writeDechunked(UnsafeRawBufferPointer(rebasing: p[..<length]), from: head.headEnd)
            }
            guard end != nil else { return nil }
            return HTTPServerRequest(head: requestHead, body: body)
        }
    }
}

extension RequestError {
    /// The short message of the JSON error the client gets.
    var message: String {
        switch self {
        case .malformed: "malformed HTTP request"
        case .headerTooLarge: "request head too large"
        case .bodyTooLarge: "body too large"
        case .expectationFailed: "expectation not supported"
        case .unsupportedTransferCoding: "transfer coding not supported"
        }
    }
}

extension HTTPServerResponse {
    /// The whole answer as HTTP/1.1 bytes: status line, the response's own headers (but its
    /// Content-Length and Connection, which are the server's to write), content-length, the
    /// Connection header this hop needs, and the body unless `withBody` is false (an answer to
    /// HEAD).
    func encoded(keepAlive: Bool, clientIsHTTP10: Bool, withBody: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        let bodyLength = body?.readableBytes ?? 0
        var out = allocator.buffer(capacity: 96 + bodyLength)
        out.writeStatusLine(status)
        for (name, value) in headers where !Self.isServerHeader(name) {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        out.writeContentLength(bodyLength)
        out.writeConnectionHeader(keepAlive: keepAlive, clientIsHTTP10: clientIsHTTP10)
        out.writeStaticString("\r\n")
        if withBody, var body { out.writeBuffer(&body) }
        return out
    }

    private static func isServerHeader(_ name: String) -> Bool {
        switch name.utf8.count {
        case 10: name.lowercased() == "connection"
        case 14: name.lowercased() == "content-length"
        default: false
        }
    }
}
