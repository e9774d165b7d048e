import HTTPServerKit
import HTTPWire
import NIOCore

/// Serves one client connection: frames its requests, forwards each to an upstream through the
/// pool of this event loop, and writes the answers back in order. Bytes go through as they came
/// (slices, no copy) unless a head has to be rewritten.
final class ClientConnectionHandler<Strategy: BalancingStrategy>: ChannelDuplexHandler,
    UpstreamResponseReceiver
{
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let pool: UpstreamPool<Strategy>
    private var machine: ClientConnectionStateMachine
    private var framer: RequestFramer
    /// Bytes received and not yet part of a forwarded request.
    private var inbound: ByteBuffer?
    private var context: ChannelHandlerContext?
    /// Inside `processInbound`, which must not re-enter itself.
    private var processing = false
    /// A read the channel asked for while reading was paused.
    private var readPending = false
    private var timer: Scheduled<Void>?
    /// Tells the connection tracker whether this connection may be closed to make room.
    private let activity: ConnectionActivity?
    private var reportedIdle = true
    /// The part of the pool's `bufferedRequestBytes` that is this connection's `inbound`.
    private var accountedBytes = 0

    init(pool: UpstreamPool<Strategy>, activity: ConnectionActivity? = nil, now: NIODeadline = .now()) {
        self.pool = pool
        self.activity = activity
        let configuration = pool.configuration
        machine = ClientConnectionStateMachine(
            now: now,
            headerTimeout: configuration.headerTimeout,
            idleTimeout: configuration.idleTimeout
        )
        framer = RequestFramer(
            maxHeaderBytes: configuration.maxHeaderBytes, maxBodyBytes: configuration.maxBodyBytes)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        armTimer(context: context, at: .now() + machine.checkInterval)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        inbound = nil
        updateAccounting()
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if inbound == nil {
            inbound = bytes
        } else {
            inbound!.writeBuffer(&bytes)
        }
        processInbound(context: context)
        // Over the loop's budget, the connection that holds an unfinished request and just
        // asked for more is shed; one waiting for its answer just stops being read (`mayRead`).
        if pool.bufferedRequestBytes > pool.configuration.maxBufferedRequestBytes, machine.isReceiving,
            inbound != nil
        {
            machine.refusedRequest()
            inbound = nil
            updateAccounting()
            let response = MessageRewriter.gatewayResponse(
                .serviceUnavailable, keepAlive: false, clientIsHTTP10: false, allocator: context.channel.allocator)
            writeAndClose(response, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        machine.channelClosed()
        inbound = nil
        updateAccounting()
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            resumeReading(context: context)
            processInbound(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if mayRead(context: context) {
            context.read()
        } else {
            readPending = true
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            if machine.quiesce() { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        machine.channelClosed()
        context.close(promise: nil)
    }

    // MARK: Requests

    private func processInbound(context: ChannelHandlerContext) {
        // An answer that comes synchronously (503 with every upstream out) re-enters here; the
        // loop below takes the next pipelined request instead, so the stack stays flat.
        guard !processing else { return }
        processing = true
        defer {
            processing = false
            updateAccounting()
            updateActivity()
        }
        // A client that does not read its answers gets no new ones: memory stays bounded.
        while machine.isReceiving, context.channel.isWritable, inbound != nil {
            let outcome = inbound!.withUnsafeReadableBytes { framer.parse($0) }
            switch outcome {
            case .incomplete:
                machine.receivedPartialRequest(now: .now())
                return
            case .sendContinue:
                machine.receivedPartialRequest(now: .now())
                let continueResponse = MessageRewriter.gatewayResponse(
                    .continue, keepAlive: true, clientIsHTTP10: false, allocator: context.channel.allocator)
                context.writeAndFlush(wrapOutboundOut(continueResponse), promise: nil)
                return
            case .failed(let error):
                machine.refusedRequest()
                inbound = nil
                updateAccounting()
                let response = MessageRewriter.gatewayResponse(
                    error.status, keepAlive: false, clientIsHTTP10: false,
                    allocator: context.channel.allocator)
                writeAndClose(response, context: context)
                return
            case .complete(let head, let length):
                framer.reset()
                let request: ByteBuffer
                if head.needsRewrite {
                    var rewritten = context.channel.allocator.buffer(capacity: length + 16)
                    inbound!.withUnsafeReadableBytes {
                        MessageRewriter.writeRequest($0, head: head, length: length, into: &rewritten)
                    }
                    request = rewritten
                } else {
                    request = inbound!.getSlice(
                        at: inbound!.readerIndex + head.start, length: length - head.start)!
                }
                if inbound!.readableBytes == length {
                    inbound = nil
                } else {
                    inbound!.moveReaderIndex(forwardBy: length)
                }
                machine.receivedRequest(head)
                pool.forward(request, requestIsHead: head.isHeadMethod, to: self)
            }
        }
    }

    // MARK: Answers (UpstreamResponseReceiver)

    func upstreamResponded(_ response: ByteBuffer, head: ResponseHead, length: Int) {
        guard let context, case .write(let keepAlive, let isHTTP10) = machine.answerReady(now: .now())
        else { return }
        let out: ByteBuffer
        if !head.needsRewrite && keepAlive && !isHTTP10 {
            out = response
        } else {
            var rewritten = context.channel.allocator.buffer(capacity: length + 32)
            response.withUnsafeReadableBytes {
                MessageRewriter.writeResponse(
                    $0, head: head, length: length, keepAlive: keepAlive, clientIsHTTP10: isHTTP10,
                    into: &rewritten)
            }
            out = rewritten
        }
        answered(out, keepAlive: keepAlive, context: context)
    }

    func upstreamFailed(_ failure: UpstreamFailure) {
        guard let context, case .write(let keepAlive, let isHTTP10) = machine.answerReady(now: .now())
        else { return }
        let response = MessageRewriter.gatewayResponse(
            failure.status, keepAlive: keepAlive, clientIsHTTP10: isHTTP10,
            allocator: context.channel.allocator)
        answered(response, keepAlive: keepAlive, context: context)
    }

    private func answered(_ response: ByteBuffer, keepAlive: Bool, context: ChannelHandlerContext) {
        guard keepAlive else {
            writeAndClose(response, context: context)
            return
        }
        context.writeAndFlush(wrapOutboundOut(response), promise: nil)
        // The next pipelined request may already be here; otherwise ask for more bytes.
        processInbound(context: context)
        resumeReading(context: context)
    }

    /// Reading goes on while a request is at an upstream, up to `readAheadLimit` unprocessed
    /// bytes: pausing and resuming reads for every request would cost two `epoll_ctl` calls each
    /// time, and the limit still bounds what a pipelining client can make the gateway hold.
    private func mayRead(context: ChannelHandlerContext) -> Bool {
        guard context.channel.isWritable else { return false }
        if machine.isReceiving { return true }
        guard let inbound else { return true }
        return inbound.readableBytes < Self.readAheadLimit
            && pool.bufferedRequestBytes <= pool.configuration.maxBufferedRequestBytes
    }

    /// Keeps the pool's total of held request bytes up to date with this connection's share
    /// (the capacity of `inbound`: what it keeps allocated, not just what it has read).
    private func updateAccounting() {
        let now = inbound?.capacity ?? 0
        if now != accountedBytes {
            pool.bufferedRequestBytes += now - accountedBytes
            accountedBytes = now
        }
    }

    /// Idle (the tracker may close it to make room): between requests with nothing received.
    private func updateActivity() {
        guard let activity else { return }
        let idle = machine.isIdle && inbound == nil
        if idle != reportedIdle {
            reportedIdle = idle
            activity.set(idle: idle)
        }
    }

    private static var readAheadLimit: Int { 16 * 1024 }

    private func resumeReading(context: ChannelHandlerContext) {
        if readPending && mayRead(context: context) {
            readPending = false
            context.read()
        }
    }

    private func writeAndClose(_ response: ByteBuffer, context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(response)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    // MARK: Timeouts

    private func armTimer(context: ChannelHandlerContext, at deadline: NIODeadline) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            guard let context = self.context else { return }
            switch machine.timerFired(now: .now()) {
            case .close: context.close(promise: nil)
            case .check(let at): armTimer(context: context, at: at)
            case .stop: break
            }
        }
    }
}
