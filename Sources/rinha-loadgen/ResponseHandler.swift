import NIOCore
import NIOHTTP1

/// The end of a connection's pipeline, after NIO's HTTP/1.1 client codec: writes the driver's
/// requests and reports each answer's status and end, and the connection's close, back to it.
final class ResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let connection: LoadConnection
    private let driver: LoadDriver
    private var context: ChannelHandlerContext?

    init(connection: LoadConnection, driver: LoadDriver) {
        self.connection = connection
        self.driver = driver
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Writes one whole request and flushes it.
    func send(head: HTTPRequestHead, body: ByteBuffer?) {
        guard let context else { return }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            connection.status = Int(head.status.code)
            connection.keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            driver.answered(connection)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        driver.closed(connection)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
