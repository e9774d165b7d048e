import ConnectionHandoff
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOExtras
import NIOPosix
import NetworkEndpoint

#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP/1.1 server on a TCP port or a Unix socket, keep-alive and pipelining aware (each
/// connection is an `HTTPConnectionHandler`). `start` returns once the socket is bound; `close`
/// stops accepting, lets the requests in progress be answered (each connection closes after its
/// answer once NIOExtras' quiescing helper asks), then closes what is left.
///
/// With a handoff socket it also serves client connections a gateway hands over (their
/// descriptors, over a Unix socket): the gateway then costs nothing per request, where a proxy
/// wakes twice per request (the client's bytes, the answer's). Such a connection gets the same
/// handler, plus the idle bound the gateway's proxy would otherwise give it.
public final class HTTPServer: Sendable {
    /// Where and how a server takes client connections handed over by a gateway. The limits are
    /// those the gateway's proxy would otherwise enforce in front of the server.
    public struct HandoffSettings: Sendable {
        /// The Unix socket the gateway connects to.
        public var path: String
        /// Handed-over connections open at once; at the limit a new one takes the place of the
        /// oldest idle one, or is closed if none is idle.
        public var maxConnections = 1024
        /// A handed-over connection that reads nothing for this long is closed.
        public var idleTimeout: TimeAmount = .seconds(60)
        /// Largest request head from a client (431 beyond): the gateway's own limit.
        public var maxHeaderBytes = 8 * 1024
        /// Bytes of unfinished requests all handed-over connections may hold together (503 beyond).
        public var maxBufferedRequestBytes = 4 * 1024 * 1024

        public init(path: String) { self.path = path }
    }

    public let channel: any Channel
    public let target: Endpoint
    private let quiescing: ServerQuiescingHelper
    private let handoff: HandoffReceiver?
    private let adopted: AdoptedConnections

    private init(
        channel: any Channel, target: Endpoint, quiescing: ServerQuiescingHelper, handoff: HandoffReceiver?,
        adopted: AdoptedConnections
    ) {
        self.channel = channel
        self.target = target
        self.quiescing = quiescing
        self.handoff = handoff
        self.adopted = adopted
    }

    /// Handed-over connections open now.
    public var adoptedConnections: Int { adopted.count }

    /// The bound TCP port (useful with port 0 in tests), or nil on a Unix socket.
    public var port: Int? { channel.localAddress?.port }

    public static func start(
        target: Endpoint,
        group: any EventLoopGroup,
        maxBodySize: Int = 4096,
        // Twice the gateway's own limit: a head it forwarded, rewritten or not, always fits.
        maxHeaderSize: Int = 16384,
        backlog: Int32 = 4096,
        handoff: HandoffSettings? = nil,
        logger: Logger = Logger(label: "http-server"),
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
        let adopted = AdoptedConnections(maxConnections: handoff?.maxConnections ?? 0)
        var receiver: HandoffReceiver?
        if let handoff {
            let budget = BufferedBytesBudget(limit: handoff.maxBufferedRequestBytes)
            do {
                receiver = try makeHandoffReceiver(handoff, group: group, adopted: adopted, logger: logger) {
                    activity in
                    HTTPConnectionHandler(
                        maxHeaderBytes: handoff.maxHeaderBytes, maxBodyBytes: maxBodySize, activity: activity,
                        budget: budget, handler: handler)
                }
            } catch {
                try? await channel.close()
                target.removeSocketFile()
                throw error
            }
            receiver?.start()
        }
        return HTTPServer(channel: channel, target: target, quiescing: quiescing, handoff: receiver, adopted: adopted)
    }

    private static func makeHandoffReceiver(
        _ settings: HandoffSettings, group: any EventLoopGroup, adopted: AdoptedConnections, logger: Logger,
        makeHandler: @escaping @Sendable (ConnectionActivity) -> HTTPConnectionHandler
    ) throws -> HandoffReceiver {
        let reporter = NIOLockedValueBox<HandoffReceiver?>(nil)
        let receiver = try HandoffReceiver(path: settings.path, logger: logger) { descriptor in
            guard adopted.makeRoom() else {
                Glibc.close(descriptor)
                return
            }
            let activity = ConnectionActivity()
            let registered = ClientBootstrap(group: group)
                .channelOption(.maxMessagesPerRead, value: 16)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(
                            IdleStateHandler(readTimeout: settings.idleTimeout), IdleConnectionCloser(),
                            makeHandler(activity))
                    }
                }
                .withConnectedSocket(descriptor)
            registered.whenComplete { result in
                switch result {
                case .success(let channel):
                    adopted.add(channel, activity: activity)
                    channel.closeFuture.whenComplete { _ in
                        let open = adopted.remove(channel)
                        reporter.withLockedValue { $0 }?.report(openConnections: open)
                    }
                case .failure(let error):
                    logger.warning("could not serve a handed-over connection", metadata: ["error": "\(error)"])
                }
            }
            // One at a time (this is the receiving thread, not an event loop): a gateway handing
            // connections faster than the event loop registers them would otherwise pile up
            // channels in its task queue, past the connection limit, which counts registered ones
            // (10,000 connections at once took an API to 33 MB resident, and its 24 MB limit
            // had it killed).
            _ = try? registered.wait()
        }
        reporter.withLockedValue { $0 = receiver }
        return receiver
    }

    /// Handed-over connections closed to make room for new ones, and new ones refused.
    public var adoptedConnectionsShed: (evicted: Int, refused: Int) { adopted.shed }

    /// Stops accepting and waits up to `grace` for the requests in progress to be answered;
    /// connections still open then are left to the event loop group's shutdown.
    public func close(grace: TimeAmount = .seconds(5)) async {
        await handoff?.stop()
        async let handedOver: Void = adopted.drain(grace: grace)
        await quiescing.drain(on: channel.eventLoop, grace: grace)
        await handedOver
        target.removeSocketFile()
    }
}
