import Logging
import NIOCore
import PaymentStore
import ServiceLifecycle
import ValkeyClient

/// A worker as a lifecycle service: builds its connections, runs the engine until graceful
/// shutdown, drains, and closes everything.
public struct WorkerService: Service {
    let configuration: WorkerConfiguration
    let group: any EventLoopGroup
    let logger: Logger

    public init(configuration: WorkerConfiguration, group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    /// Builds the engine and what it needs; the caller closes the returned resources.
    public static func build(configuration: WorkerConfiguration, group: any EventLoopGroup, logger: Logger)
        -> (engine: WorkerEngine, close: @Sendable () async -> Void)
    {
        let loop = group.next()
        let valkeyConfiguration = ValkeyConfiguration(endpoint: configuration.valkey)
        let client = ValkeyClient(configuration: valkeyConfiguration, eventLoop: loop, logger: logger)
        var blockingConfiguration = valkeyConfiguration
        blockingConfiguration.waitForConnection = .seconds(2)
        let blocking = ValkeyClient(configuration: blockingConfiguration, eventLoop: loop, logger: logger)
        let processors = ProcessorClient(
            eventLoop: loop, baseURLs: configuration.processorURLs, timeoutMillis: configuration.requestTimeoutMillis,
            maxConnections: configuration.maxConnectionsPerProcessor, logger: logger)
        let engine = WorkerEngine(
            configuration: configuration,
            store: PaymentStore(
                client: client, keys: StoreKeys(prefix: configuration.keyPrefix), retention: configuration.retention),
            blocking: blocking, processors: processors, logger: logger)
        return (
            engine,
            {
                await processors.shutdown()
                await client.close()
                await blocking.close()
            }
        )
    }

    public func run() async throws {
        let (engine, close) = Self.build(configuration: configuration, group: group, logger: logger)
        logger.info(
            "worker started",
            metadata: [
                "id": "\(configuration.workerID)", "valkey": "\(configuration.valkey)",
                "default": "\(configuration.processorURLs[.default] ?? "")",
                "fallback": "\(configuration.processorURLs[.fallback] ?? "")",
            ])
        await withGracefulShutdownHandler {
            await engine.run()
        } onGracefulShutdown: {
            engine.stop()
        }
        await close()
    }
}
