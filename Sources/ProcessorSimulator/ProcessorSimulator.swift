import NIOCore

/// A running Rinha 2025 Payment Processor, in memory: `POST /payments`, the rate-limited
/// `GET /payments/service-health`, `GET /payments/{id}` and the admin API (docs/rinha-spec.md §2).
/// Its state lives on one event loop of `group`; HTTP connections may use any of them.
public final class ProcessorSimulator: Sendable {
    private let server: KestrelServer
    private let core: NIOLoopBound<SimulatorCore>
    private let loop: any EventLoop

    private init(server: KestrelServer, core: NIOLoopBound<SimulatorCore>, loop: any EventLoop) {
        self.server = server
        self.core = core
        self.loop = loop
    }

    /// The bound TCP port (0 in the configuration picks a free one).
    public var port: Int { server.port ?? 0 }

    /// Binds and starts serving; returns once the socket is bound. Throws
    /// `SimulatorConfigurationError` for an unusable configuration.
    public static func start(
        configuration: SimulatorConfiguration,
        group: any EventLoopGroup
    ) async throws -> ProcessorSimulator {
        guard let feeRate = FeeRate(configuration.feeRate) else {
            throw SimulatorConfigurationError(description: "fee rate must be a plain decimal like 0.05")
        }
        guard configuration.healthWindowMillis > 0 else {
            throw SimulatorConfigurationError(description: "health window must be positive")
        }
        guard configuration.maxInFlight >= 1, configuration.maxQueued >= 0 else {
            throw SimulatorConfigurationError(description: "max in flight must be >= 1 and max queued >= 0")
        }
        let loop = group.next()
        let core = try await loop.submit {
            NIOLoopBound(
                SimulatorCore(configuration: configuration, feeRate: feeRate, loop: loop), eventLoop: loop)
        }.get()
        let server = try await KestrelServer.start(
            host: configuration.host, port: configuration.port, group: group,
            framing: configuration.framing
        ) { request, clientGone in
            if loop.inEventLoop { return core.value.handle(request, clientGone: clientGone) }
            return loop.flatSubmit { core.value.handle(request, clientGone: clientGone) }
        }
        return ProcessorSimulator(server: server, core: core, loop: loop)
    }

    /// Stops accepting connections and answers whoever waits for a limiter (queued payments get
    /// a 500 and are not stored; queued health checks are answered). Payments already in their
    /// delay still complete while the event loop runs.
    public func close() async {
        await server.close()
        let core = self.core
        try? await loop.submit { core.value.releaseWaiters() }.get()
    }
}
