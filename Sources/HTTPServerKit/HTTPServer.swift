import Logging
import NIOCore
import NIOExtras
import NIOPosix
import NetworkEndpoint

/// An HTTP/1.1 server on a TCP port or a Unix socket, keep-alive and pipelining aware (each
/// connection is an `HTTPConnectionHandler`). `start` returns once the socket is bound; `close`
/// stops accepting, lets the requests in progress be answered (each connection closes after its
/// answer once NIOExtras' quiescing helper asks), then closes what is left.
public final class HTTPServer: Sendable {
    public let channel: any Channel
    public let target: Endpoint
    private let quiescing: ServerQuiescingHelper

    private init(channel: any Channel, target: Endpoint, quiescing: ServerQuiescingHelper) {
        self.channel = channel
        self.target = target
        self.quiescing = quiescing
    }

    /// The bound TCP port (useful with port 0 in tests), or nil on a Unix socket.
    public var port: Int? { channel.localAddress?.port }

    public static func start(
        target: Endpoint,
        group: any EventLoopGroup,
        maxBodySize: Int = 4096,
        // Twice the gateway's own limit: a head it forwarded, rewritten or not, always fits.
        maxHeaderSize: Int = 16384,
        backlog: Int32 = 4096,
        handler: @escaping HTTPHandler
    ) async throws -> HTTPServer {
        let quiescing = ServerQuiescingHelper(group: group)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPConnectionHandler(
                            maxHeaderBytes: maxHeaderSize, maxBodyBytes: maxBodySize, handler: handler))
                }
            }
        // Payments are tiny: on TCP, no Nagle delay for the answer (a Unix socket has none).
        let configured =
            if case .tcp = target { bootstrap.childChannelOption(.tcpOption(.tcp_nodelay), value: 1) } else {
                bootstrap
            }
        let channel = try await configured.bind(to: target)
        return HTTPServer(channel: channel, target: target, quiescing: quiescing)
    }

    /// Stops accepting and waits up to `grace` for the requests in progress to be answered;
    /// connections still open then are left to the event loop group's shutdown.
    public func close(grace: TimeAmount = .seconds(5)) async {
        await quiescing.drain(on: channel.eventLoop, grace: grace)
        target.removeSocketFile()
    }
}
