import Logging
import NIOCore
import NIOPosix
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

extension ProcessorSimulatorService {
    /// What the executable does: one event loop group of `threads` threads, the simulator in a
    /// `ServiceGroup` that shuts down gracefully on SIGTERM or SIGINT, then the group shut down.
    public static func runUntilSignalled(
        configuration: SimulatorConfiguration, threads: Int, logger: Logger
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(threads, 1))
        let service = ProcessorSimulatorService(
            configuration: configuration, group: group, logger: logger)
        let serviceGroup = ServiceGroup(
            configuration: .init(
                services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await serviceGroup.run()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }
}
