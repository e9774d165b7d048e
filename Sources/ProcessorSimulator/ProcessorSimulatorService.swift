import Logging
import NIOCore
import ServiceLifecycle

/// Runs a `ProcessorSimulator` until graceful shutdown (SIGTERM/SIGINT in a `ServiceGroup`).
/// The event loop group belongs to the caller, who shuts it down after the group returns.
public struct ProcessorSimulatorService: Service {
    public let configuration: SimulatorConfiguration
    public let group: any EventLoopGroup
    public let logger: Logger

    public init(configuration: SimulatorConfiguration, group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    public func run() async throws {
        let simulator = try await ProcessorSimulator.start(configuration: configuration, group: group)
        logger.info(
            "payment processor simulator listening",
            metadata: [
                "host": "\(configuration.host)", "port": "\(simulator.port)",
                "fee": "\(configuration.feeRate)",
            ])
        try? await gracefulShutdown()
        logger.info("shutting down")
        await simulator.close()
    }
}
