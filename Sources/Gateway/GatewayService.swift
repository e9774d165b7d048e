import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The gateway as a swift-service-lifecycle `Service`: runs until a graceful shutdown (SIGTERM
/// in `main`) and then drains its connections.
public struct GatewayService: Service {
    public let configuration: GatewayConfiguration
    public let group: any EventLoopGroup
    public let logger: Logger

    public init(configuration: GatewayConfiguration, group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    public func run() async throws {
        let server = try await GatewayServer.start(configuration: configuration, group: group)
        logger.info(
            "gateway listening",
            metadata: [
                "port": "\(server.port)",
                "upstreams": "\(configuration.upstreams.joined(separator: ","))",
                "strategy": "\(configuration.strategy.rawValue)",
            ])
        try? await gracefulShutdown()
        logger.info("gateway shutting down")
        await server.shutdown()
        logger.info(
            "gateway stopped",
            metadata: [
                "counters": "\(server.upstreams.snapshotJSON(now: NIODeadline.now().uptimeNanoseconds))"
            ])
    }
}
