import NIOCore

/// What waits for one reply: a promise, for callers on futures, or a callback run on the event
/// loop in the tick the reply is read (the API's request path: no future to allocate, complete
/// and release per call).
enum ReplyWaiter {
    case promise(EventLoopPromise<RESPValue>)
    case callback(@Sendable (Result<RESPValue, any Error>) -> Void)

    func complete(_ result: Result<RESPValue, any Error>) {
        switch self {
        case .promise(let promise): promise.completeWith(result)
        case .callback(let callback): callback(result)
        }
    }
}

/// Writes commands and matches replies to them in order (RESP answers in order on one
/// connection, so pipelining is a FIFO of waiters). When the connection closes, every command
/// still waiting fails with `connectionLost`: it may have run.
///
/// Commands come through `send`, a direct call on the event loop, rather than through the
/// pipeline's `write`: a command and its waiter written as the pipeline's data were boxed into
/// an existential and cast back per command, which showed in the API's profile.
final class RESPChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let reader = HiredisReplyReader()
    private var pending = CircularBuffer<ReplyWaiter>(initialCapacity: 64)
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// Writes `command` (flushed by `flush`) and queues `waiter` for its reply. On a connection
    /// that is not active the waiter fails at once and nothing is written.
    func send(_ command: RESPCommand, _ waiter: ReplyWaiter) {
        guard let context, context.channel.isActive else {
            waiter.complete(.failure(ValkeyError.connectionLost))
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 128)
        command.encode(into: &buffer)
        pending.append(waiter)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    func flush() {
        context?.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = self.unwrapInboundIn(data)
        bytes.withUnsafeReadableBytes { reader.feed($0) }
        do {
            while let reply = try reader.next() {
                guard let waiter = pending.popFirst() else {
                    // A reply nobody asked for: the stream is out of step; start afresh.
                    context.close(promise: nil)
                    return
                }
                waiter.complete(.success(reply))
            }
        } catch {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(ValkeyError.connectionLost)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failAll(ValkeyError.connectionLost)
        self.context = nil
    }

    private func failAll(_ error: ValkeyError) {
        while let waiter = pending.popFirst() { waiter.complete(.failure(error)) }
    }
}
