import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP/1.1 server on a TCP port or a Unix socket, keep-alive and pipelining aware.
/// `start` returns once the socket is bound; `close` stops accepting and closes the listener.
public final class HTTPServer: Sendable {
    public let channel: any Channel
    public let target: BindTarget

    private init(channel: any Channel, target: BindTarget) {
        self.channel = channel
        self.target = target
    }

    /// The bound TCP port (useful with port 0 in tests), or nil on a Unix socket.
    public var port: Int? { channel.localAddress?.port }

    public static func start(
        target: BindTarget,
        group: any EventLoopGroup,
        maxBodySize: Int = 4096,
        backlog: Int32 = 4096,
        handler: @escaping HTTPHandler
    ) async throws -> HTTPServer {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.configureHTTPServerPipeline(withErrorHandling: false)
                    try sync.addHandler(RequestAggregator(maxBodySize: maxBodySize, handler: handler))
                }
            }
        let channel: any Channel
        switch target {
        case .tcp(let host, let port):
            channel = try await bootstrap.childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .bind(host: host, port: port).get()
        case .unix(let path):
            unlink(path)  // a stale socket file from a killed process would make bind fail
            channel = try await bootstrap.bind(unixDomainSocketPath: path).get()
            chmod(path, 0o777)  // the gateway may run as another user (shared tmpfs volume)
        }
        return HTTPServer(channel: channel, target: target)
    }

    public func close() async {
        try? await channel.close()
        if case .unix(let path) = target { unlink(path) }
    }
}
