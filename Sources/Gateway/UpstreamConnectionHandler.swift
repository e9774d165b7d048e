import NIOCore

/// One keep-alive connection to an upstream, carrying one request at a time (no pipelining
/// upstream: a request queued behind a slow one would wait for it, and a broken connection
/// would leave several requests in doubt instead of one).
final class UpstreamConnectionHandler<Strategy: BalancingStrategy>: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case idle
        case awaiting(any UpstreamResponseReceiver, requestIsHead: Bool, sentAt: NIODeadline)
        case closed
    }

    private unowned let pool: UpstreamPool<Strategy>
    private let index: Int
    private var state = State.idle
    private var framer: ResponseFramer
    private var buffer: ByteBuffer?
    private var context: ChannelHandlerContext?
    /// Armed lazily: a busy connection re-arms it once per timeout period, not once per request.
    private var timer: Scheduled<Void>?

    init(pool: UpstreamPool<Strategy>, index: Int) {
        self.pool = pool
        self.index = index
        framer = ResponseFramer(maxResponseBytes: pool.configuration.maxResponseBytes)
    }

    var isReusable: Bool {
        if case .idle = state, let context, context.channel.isActive { return true }
        return false
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func send(_ request: ByteBuffer, requestIsHead: Bool, to receiver: any UpstreamResponseReceiver) {
        guard let context else {
            fail(receiver, .badResponse)
            return
        }
        let now = NIODeadline.now()
        state = .awaiting(receiver, requestIsHead: requestIsHead, sentAt: now)
        if timer == nil { armTimer(context: context, at: now + pool.configuration.upstreamTimeout) }
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    func close() {
        guard let context else { return }
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard case .awaiting(let receiver, let requestIsHead, let sentAt) = state else {
            // Bytes nobody asked for: the connection's framing can no longer be trusted.
            context.close(promise: nil)
            return
        }
        if buffer == nil {
            buffer = bytes
        } else {
            buffer!.writeBuffer(&bytes)
        }
        while true {
            let outcome = buffer!.withUnsafeReadableBytes {
                framer.parse($0, requestWasHead: requestIsHead)
            }
            switch outcome {
            case .incomplete:
                return
            case .interim(let length):
                buffer!.moveReaderIndex(forwardBy: length)
                continue
            case .failed:
                finish(failure: .badResponse, context: context)
                return
            case .complete(let head, let length):
                let response = buffer!.readSlice(length: length)!
                let leftover = buffer!.readableBytes > 0
                buffer = nil
                framer.reset()
                state = .idle
                pool.exchangeSucceeded(
                    index: index, latencyNanoseconds: (NIODeadline.now() - sentAt).nanoseconds)
                if head.upstreamKeepAlive && !leftover {
                    pool.release(self, index: index)
                } else {
                    context.close(promise: nil)
                }
                receiver.upstreamResponded(response, head: head, length: length)
                return
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .awaiting(let receiver, _, let sentAt) = state {
            // A response delimited by the close is complete now.
            if let buffer,
                case .complete(let head, let length) = buffer.withUnsafeReadableBytes({ framer.finish($0) })
            {
                state = .closed
                pool.exchangeSucceeded(
                    index: index, latencyNanoseconds: (NIODeadline.now() - sentAt).nanoseconds)
                receiver.upstreamResponded(
                    buffer.getSlice(at: buffer.readerIndex, length: length)!, head: head, length: length)
            } else {
                finish(failure: .badResponse, context: context)
            }
        }
        state = .closed
        buffer = nil
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func finish(failure: UpstreamFailure, context: ChannelHandlerContext) {
        guard case .awaiting(let receiver, _, _) = state else { return }
        state = .closed
        buffer = nil
        pool.exchangeFailed(index: index)
        context.close(promise: nil)
        receiver.upstreamFailed(failure)
    }

    private func fail(_ receiver: any UpstreamResponseReceiver, _ failure: UpstreamFailure) {
        pool.exchangeFailed(index: index)
        receiver.upstreamFailed(failure)
    }

    private func armTimer(context: ChannelHandlerContext, at deadline: NIODeadline) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            guard case .awaiting(_, _, let sentAt) = state, let context = self.context else { return }
            let due = sentAt + pool.configuration.upstreamTimeout
            if NIODeadline.now() >= due {
                finish(failure: .timeout, context: context)
            } else {
                armTimer(context: context, at: due)
            }
        }
    }
}
