import NIOCore

/// Writes commands and matches replies to them in order (RESP answers in order on one
/// connection, so pipelining is a FIFO of promises). When the connection closes, every command
/// still waiting fails with `connectionLost`: it may have run.
final class RESPChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = (RESPCommand, EventLoopPromise<RESPValue>)
    typealias OutboundOut = ByteBuffer

    private let reader = HiredisReplyReader()
    private var pending = CircularBuffer<EventLoopPromise<RESPValue>>(initialCapacity: 64)

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let (command, replyPromise) = self.unwrapOutboundIn(data)
        guard context.channel.isActive else {
            // Never reaches the socket, but the caller cannot tell a half-written command apart.
            replyPromise.fail(ValkeyError.connectionLost)
            promise?.fail(ValkeyError.connectionLost)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 128)
        command.encode(into: &buffer)
        pending.append(replyPromise)
        context.write(self.wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = self.unwrapInboundIn(data)
        bytes.withUnsafeReadableBytes { reader.feed($0) }
        do {
            while let reply = try reader.next() {
                guard let promise = pending.popFirst() else {
                    // A reply nobody asked for: the stream is out of step; start afresh.
                    context.close(promise: nil)
                    return
                }
                promise.succeed(reply)
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
    }

    private func failAll(_ error: ValkeyError) {
        while let promise = pending.popFirst() { promise.fail(error) }
    }
}
