import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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
    private let closeIdleConnections: @Sendable () -> Void

    private init(
        port: Int,
        adminPort: Int?,
        upstreams: UpstreamTable,
        configuration: GatewayConfiguration,
        channel: any Channel,
        adminChannel: (any Channel)?,
        tracker: NIOLoopBound<ConnectionTracker>,
        closeIdleConnections: @escaping @Sendable () -> Void
    ) {
        self.port = port
        self.adminPort = adminPort
        self.upstreams = upstreams
        self.configuration = configuration
        self.channel = channel
        self.adminChannel = adminChannel
        self.tracker = tracker
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

        let bootstrap = ServerBootstrap(group: serverLoop, childGroup: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(tracker.value)
                }
            }
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
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
        let channel = try await bootstrap.bind(
            host: configuration.listenHost, port: configuration.listenPort
        ).get()

        var adminChannel: (any Channel)?
        if let adminAddress = configuration.adminAddress {
            guard let address = ListenAddress(parsing: adminAddress) else {
                try? await channel.close()
                throw GatewayError.invalidConfiguration("admin address \(adminAddress)")
            }
            let adminBootstrap = ServerBootstrap(group: serverLoop)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(AdminHandler(table: table))
                    }
                }
            switch address {
            case .tcp(let host, let port):
                adminChannel = try await adminBootstrap.bind(host: host, port: port).get()
            case .unix(let path):
                unlink(path)  // a stale socket file from a killed process would make bind fail
                adminChannel = try await adminBootstrap.bind(unixDomainSocketPath: path).get()
            }
        }

        return GatewayServer(
            port: channel.localAddress?.port ?? configuration.listenPort,
            adminPort: adminChannel?.localAddress?.port,
            upstreams: table,
            configuration: configuration,
            channel: channel,
            adminChannel: adminChannel,
            tracker: tracker,
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
        let grace = configuration.shutdownGracePeriod
        let drained = tracker.eventLoop.flatSubmit {
            let future = tracker.value.initiateShutdown(eventLoop: tracker.eventLoop)
            let forced = tracker.eventLoop.assumeIsolated().scheduleTask(in: grace) {
                tracker.value.closeAll()
            }
            future.whenComplete { _ in forced.cancel() }
            return future
        }
        try? await drained.get()
        if let adminChannel {
            try? await adminChannel.close()
            if case .unix(let path) = ListenAddress(parsing: configuration.adminAddress ?? "") {
                unlink(path)
            }
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
