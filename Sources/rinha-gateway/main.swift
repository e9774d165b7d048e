import ArgumentParser
import Gateway
import Logging
import NIOCore
import NetworkEndpoint
import ProcessSupport

/// The public entry of the stack: an HTTP/1.1 load balancer in front of the API instances.
/// Every option falls back to an environment variable (for compose), then to its default.
@main
struct RinhaGateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rinha-gateway",
        abstract: """
            HTTP/1.1 load balancer in front of the APIs' Unix sockets: it proxies each request (proxy \
            mode) or hands each client connection to an API (handoff mode).
            """
    )

    private static let defaults = GatewayConfiguration(upstreams: [])

    @Option(help: "Where clients connect: host:port or unix:/path. Env: GATEWAY_LISTEN.")
    var listen: String = ProcessSupport.environment("GATEWAY_LISTEN") ?? Self.defaults.listen.description

    @Option(
        name: .customLong("upstream"),
        help: "An API's Unix socket (unix:/path or /path); repeat for each. Env: GATEWAY_UPSTREAMS (comma-separated).")
    var upstreams: [String] = ProcessSupport.list("GATEWAY_UPSTREAMS")

    @Option(
        name: .customLong("handoff-upstream"),
        help: """
            An API's handoff socket (see rinha-api --handoff), for handoff mode; repeat for each. \
            Env: GATEWAY_HANDOFF_UPSTREAMS (comma-separated).
            """)
    var handoffUpstreams: [String] = ProcessSupport.list("GATEWAY_HANDOFF_UPSTREAMS")

    @Option(
        help: """
            Balancing strategy: \(BalancingStrategyKind.allCases.map(\.rawValue).joined(separator: ", ")). \
            Env: GATEWAY_STRATEGY.
            """)
    var strategy: String = ProcessSupport.environment("GATEWAY_STRATEGY") ?? Self.defaults.strategy.rawValue

    @Option(
        help: """
            proxy: every request through the gateway; handoff: every connection handed to an API \
            (to the sockets --handoff-upstream names). Env: GATEWAY_MODE.
            """)
    var mode: String = ProcessSupport.environment("GATEWAY_MODE") ?? Self.defaults.mode.rawValue

    @Option(help: "Event loop threads. Env: GATEWAY_THREADS.")
    var threads: Int = ProcessSupport.environment("GATEWAY_THREADS").flatMap { Int($0) } ?? Self.defaults.threads

    @Option(help: "Largest request head in bytes (431 beyond).")
    var maxHeaderBytes: Int = Self.defaults.maxHeaderBytes

    @Option(help: "Largest request body in bytes (413 beyond).")
    var maxBodyBytes: Int = Self.defaults.maxBodyBytes

    @Option(help: "Largest upstream response in bytes (502 beyond).")
    var maxResponseBytes: Int = Self.defaults.maxResponseBytes

    @Option(help: "Bytes of unfinished requests all connections of a thread may hold (503 beyond).")
    var maxBufferedRequestBytes: Int = Self.defaults.maxBufferedRequestBytes

    @Option(help: "Seconds a client has to send a whole request.")
    var headerTimeout: Double = Self.defaults.headerTimeout.seconds

    @Option(help: "Seconds a keep-alive client connection may idle.")
    var idleTimeout: Double = Self.defaults.idleTimeout.seconds

    @Option(help: "Seconds an upstream has to answer (504 beyond).")
    var upstreamTimeout: Double = Self.defaults.upstreamTimeout.seconds

    @Option(help: "Client connections open at once; at the limit the oldest idle one makes room.")
    var maxConnections: Int = Self.defaults.maxConnections

    @Option(help: "Idle connections kept per upstream and thread.")
    var maxIdlePerUpstream: Int = Self.defaults.maxIdleConnectionsPerUpstream

    @Option(help: "Seconds a failed upstream stays out of service.")
    var ejectSeconds: Double = Double(Self.defaults.ejectDuration.components.seconds)

    @Option(help: "Failed answers in a row that eject an upstream.")
    var ejectAfter: Int = Self.defaults.ejectAfterFailures

    @Option(help: "Admin address (host:port or unix:/path) serving counters as JSON. Env: GATEWAY_ADMIN.")
    var admin: String? = ProcessSupport.environment("GATEWAY_ADMIN")

    @OptionGroup var log: LogOptions

    func run() async throws {
        guard let mode = GatewayMode(rawValue: mode) else {
            throw ValidationError(
                "unknown mode \(mode); one of \(GatewayMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let named = mode == .handoff ? handoffUpstreams : upstreams
        guard !named.isEmpty else {
            throw ValidationError(
                mode == .handoff
                    ? "give the APIs' handoff sockets with --handoff-upstream or GATEWAY_HANDOFF_UPSTREAMS"
                    : "give upstreams with --upstream or GATEWAY_UPSTREAMS")
        }
        var config = GatewayConfiguration(
            upstreams: try named.map { text in
                guard case .unix(let path) = Endpoint(parsing: text) else {
                    throw ValidationError("an upstream is a Unix socket (unix:/path or /path), got \(text)")
                }
                return path
            })
        config.mode = mode
        config.listen = try ProcessSupport.endpoint(listen, flag: "--listen")
        guard let kind = BalancingStrategyKind(rawValue: strategy) else {
            throw ValidationError(
                "unknown strategy \(strategy); one of \(BalancingStrategyKind.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        config.strategy = kind
        config.threads = max(1, threads)
        config.maxHeaderBytes = maxHeaderBytes
        config.maxBodyBytes = maxBodyBytes
        config.maxResponseBytes = maxResponseBytes
        config.maxBufferedRequestBytes = maxBufferedRequestBytes
        config.headerTimeout = .seconds(headerTimeout)
        config.idleTimeout = .seconds(idleTimeout)
        config.upstreamTimeout = .seconds(upstreamTimeout)
        config.maxConnections = maxConnections
        config.maxIdleConnectionsPerUpstream = maxIdlePerUpstream
        config.ejectDuration = .nanoseconds(Int64(ejectSeconds * 1e9))
        config.ejectAfterFailures = ejectAfter
        config.admin = try admin.map { try ProcessSupport.endpoint($0, flag: "--admin") }

        let logger = log.logger(label: "rinha-gateway")
        let configuration = config
        if mode == .handoff {
            guard admin == nil else { throw ValidationError("--admin is served in proxy mode only") }
            try await runHandoff(configuration, logger: logger)
            return
        }
        try await ProcessSupport.serveUntilSignalled(threads: config.threads, logger: logger) { group in
            let server = try await GatewayServer.start(configuration: configuration, group: group)
            logger.info("gateway listening", metadata: Self.startMetadata(configuration, port: server.port))
            return server
        } stop: { server in
            logger.info("gateway shutting down")
            await server.shutdown()
            logger.info(
                "gateway stopped",
                metadata: ["counters": "\(server.upstreams.snapshotJSON(now: NIODeadline.now().uptimeNanoseconds))"])
        }
    }
}

extension RinhaGateway {
    fileprivate static func startMetadata(_ configuration: GatewayConfiguration, port: Int) -> Logger.Metadata {
        [
            "mode": "\(configuration.mode.rawValue)", "listen": "\(configuration.listen)", "port": "\(port)",
            "upstreams": "\(configuration.upstreams.joined(separator: ","))",
            "strategy": "\(configuration.strategy.rawValue)",
        ]
    }

    private func runHandoff(_ configuration: GatewayConfiguration, logger: Logger) async throws {
        try await ProcessSupport.serveUntilSignalled(threads: 1, logger: logger) { _ in
            let gateway = try HandoffGateway.start(configuration: configuration, logger: logger)
            logger.info("gateway listening", metadata: Self.startMetadata(configuration, port: gateway.port))
            return gateway
        } stop: { gateway in
            logger.info("gateway shutting down")
            await gateway.shutdown()
            let counted = gateway.counted
            logger.info(
                "gateway stopped",
                metadata: [
                    "handed_over": "\(counted.handedOver)",
                    "unavailable": "\(counted.unavailable)",
                ])
        }
    }
}

extension TimeAmount {
    fileprivate var seconds: Double { Double(nanoseconds) / 1e9 }

    fileprivate static func seconds(_ value: Double) -> TimeAmount { .nanoseconds(Int64(value * 1e9)) }
}
