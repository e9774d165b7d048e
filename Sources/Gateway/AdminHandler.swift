import HTTPWire
import NIOCore

/// Answers any HTTP request on the admin address with the upstream counters as JSON, then
/// closes. Kept off the public port so that clients cannot read or flood it.
final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let table: UpstreamTable
    private var received = 0

    init(table: UpstreamTable) { self.table = table }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        received += bytes.readableBytes
        let complete = bytes.readableBytesView.lastIndex(of: HTTPSyntax.lf) != nil
        guard complete || received > 8192 else { return }
        let body = table.snapshotJSON(now: NIODeadline.now().uptimeNanoseconds) + "\n"
        var out = context.channel.allocator.buffer(capacity: body.utf8.count + 128)
        out.writeString(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: \(body.utf8.count)\r\n"
                + "connection: close\r\n\r\n" + body)
        context.writeAndFlush(wrapOutboundOut(out)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
