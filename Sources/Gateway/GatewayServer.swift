import HTTPServerKit
import NIOCore
import NIOExtras
import NIOPosix
import NetworkEndpoint

/// A running gateway: the public listener, the optional admin listener and the upstream pools.
/// Built by `start`, which both `main` and the tests use.
public final class GatewayServer: Sendable {
    /// The bound public TCP port (the real one when configured with port 0).
    public let port: Int
    /// The bound admin TCP port, if the admin address is TCP.
    public let adminPort: Int?
    /// Upstream counters and health.
    public let upstreams: UpstreamTable
    public let configuration: GatewayConfiguration
    private let channel: any Channel
    private let adminChannel: (any Channel)?
    private let tracker: NIOLoopBound<ConnectionTracker>
    private let quiescing: ServerQuiescingHelper
    private let closeIdleConnections: @Sendable () -> Void

    private init(
        port: Int,
        adminPort: Int?,
        upstreams: UpstreamTable,
        configuration: GatewayConfiguration,
        channel: any Channel,
        adminChannel: (any Channel)?,
        tracker: NIOLoopBound<ConnectionTracker>,
        quiescing: ServerQuiescingHelper,
        closeIdleConnections: @escaping @Sendable () -> Void
    ) {
        self.port = port
        self.adminPort = adminPort
        self.upstreams = upstreams
        self.configuration = configuration
        self.channel = channel
        self.adminChannel = adminChannel
        self.tracker = tracker
        self.quiescing = quiescing
        self.closeIdleConnections = closeIdleConnections
    }

    /// Binds the listeners and returns once they accept connections. The strategy named in the
    /// configuration is resolved here, once: everything below is specialised for its type.
    public static func start(configuration: GatewayConfiguration, group: any EventLoopGroup)
        async throws -> GatewayServer
    {
        guard !configuration.upstreams.isEmpty, configuration.upstreams.count <= 64 else {
            throw GatewayError.invalidConfiguration("between 1 and 64 upstreams are needed")
        }
        return try await start(
            configuration: configuration, group: group, strategy: configuration.strategy.strategyType)
    }

    private static func start<Strategy: BalancingStrategy>(
        configuration: GatewayConfiguration,
        group: any EventLoopGroup,
        strategy: Strategy.Type
    ) async throws -> GatewayServer {
        let table = UpstreamTable(
            paths: configuration.upstreams,
            ejectDuration: configuration.ejectDuration,
            ejectAfterFailures: configuration.ejectAfterFailures
        )
        var pools: [NIOLoopBound<UpstreamPool<Strategy>>] = []
        for loop in group.makeIterator() {
            let seed = UInt64.random(in: .min ... .max)
            pools.append(
                try await loop.submit {
                    NIOLoopBound(
                        UpstreamPool<Strategy>(
                            eventLoop: loop, table: table, configuration: configuration, seed: seed),
                        eventLoop: loop)
                }.get())
        }
        let allPools = pools

        let serverLoop = group.next()
        let tracker = try await serverLoop.submit {
            NIOLoopBound(
                ConnectionTracker(maxConnections: configuration.maxConnections), eventLoop: serverLoop)
        }.get()

        let quiescing = ServerQuiescingHelper(group: group)
        let bootstrap = ServerBootstrap(group: serverLoop, childGroup: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        quiescing.makeServerChannelHandler(channel: channel), tracker.value)
                }
            }
            .childChannelOption(.maxMessagesPerRead, value: 4)
            // A request is a few hundred bytes: small read buffers, and a ceiling on what one
            // read can add to a connection's unfinished request before the limits are checked.
            .childChannelOption(
                .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 1024, maximum: 16384)
            )
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let pool = allPools.first(where: { $0.eventLoop === channel.eventLoop }) else {
                        throw GatewayError.invalidConfiguration("connection on a foreign event loop")
                    }
                    let activity = ConnectionActivity()
                    try channel.pipeline.syncOperations.addHandler(
                        ClientConnectionHandler(pool: pool.value, activity: activity))
                    if tracker.eventLoop.inEventLoop {
                        tracker.value.attach(channel, activity: activity)
                    } else {
                        tracker.eventLoop.execute { tracker.value.attach(channel, activity: activity) }
                    }
                }
            }
        // Payments are tiny: on TCP, no Nagle delay for the answer (a Unix socket has none).
        let configured =
            if case .tcp = configuration.listen {
                bootstrap.childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            } else {
                bootstrap
            }
        let channel = try await configured.bind(to: configuration.listen)

        var adminChannel: (any Channel)?
        if let admin = configuration.admin {
            let adminBootstrap = ServerBootstrap(group: serverLoop)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(AdminHandler(table: table))
                    }
                }
            do {
                adminChannel = try await adminBootstrap.bind(to: admin)
            } catch {
                try? await channel.close()
                throw error
            }
        }

        return GatewayServer(
            port: channel.localAddress?.port ?? 0,
            adminPort: adminChannel?.localAddress?.port,
            upstreams: table,
            configuration: configuration,
            channel: channel,
            adminChannel: adminChannel,
            tracker: tracker,
            quiescing: quiescing,
            closeIdleConnections: {
                for pool in allPools {
                    pool.eventLoop.execute { pool.value.closeIdleConnections() }
                }
            }
        )
    }

    /// Client connections open now.
    public func openConnections() async throws -> Int {
        try await tracker.eventLoop.submit { [tracker] in tracker.value.openConnections }.get()
    }

    /// Connections closed at the limit: idle ones that made room, and new ones refused.
    public func connectionsShed() async throws -> (evicted: Int, refused: Int) {
        try await tracker.eventLoop.submit { [tracker] in (tracker.value.evicted, tracker.value.refused) }.get()
    }

    /// Stops accepting, lets requests in progress finish (up to the grace period), then closes
    /// every connection, the admin listener and the pooled upstream connections.
    public func shutdown() async {
        let tracker = self.tracker
        await quiescing.drain(on: tracker.eventLoop, grace: configuration.shutdownGracePeriod) {
            tracker.value.closeAll()
        }
        if let adminChannel {
            try? await adminChannel.close()
            configuration.admin?.removeSocketFile()
        }
        closeIdleConnections()
    }
}

/// Errors of the gateway's set-up.
public enum GatewayError: Error, CustomStringConvertible {
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let text): "invalid configuration: \(text)"
        }
    }
}
