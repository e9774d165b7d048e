import ArgumentParser
import Gateway
import Logging
import NIOCore
import NIOPosix
import ProcessSupport
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

extension BalancingStrategyKind: ExpressibleByArgument {}

/// The public entry of the stack: an HTTP/1.1 load balancer in front of the API instances.
/// Every option falls back to an environment variable (for compose), then to its default.
@main
struct RinhaGateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rinha-gateway",
        abstract: "HTTP/1.1 load balancer: TCP in, keep-alive Unix socket upstreams out."
    )

    @Option(help: "Listen address host:port. Env GATEWAY_LISTEN. Default 0.0.0.0:9999.")
    var listen: String?

    @Option(
        name: .customLong("upstream"),
        help: "Upstream Unix socket path; repeat for each. Env GATEWAY_UPSTREAMS (comma-separated).")
    var upstreams: [String] = []

    @Option(help: "Balancing strategy. Env GATEWAY_STRATEGY. Default round-robin.")
    var strategy: BalancingStrategyKind?

    @Option(help: "Event loop threads. Env GATEWAY_THREADS. Default 1.")
    var threads: Int?

    @Option(help: "Largest request head in bytes (431 beyond). Default 8192.")
    var maxHeaderBytes: Int?

    @Option(help: "Largest request body in bytes (413 beyond). Default 4096.")
    var maxBodyBytes: Int?

    @Option(help: "Largest upstream response in bytes (502 beyond). Default 65536.")
    var maxResponseBytes: Int?

    @Option(help: "Bytes of unfinished requests all connections of a thread may hold (503 beyond). Default 4194304.")
    var maxBufferedRequestBytes: Int?

    @Option(help: "Seconds a client has to send a whole request. Default 10.")
    var headerTimeout: Double?

    @Option(help: "Seconds a keep-alive client connection may idle. Default 60.")
    var idleTimeout: Double?

    @Option(help: "Seconds an upstream has to answer (504 beyond). Default 30.")
    var upstreamTimeout: Double?

    @Option(help: "Client connections open at once; at the limit the oldest idle one makes room. Default 2048.")
    var maxConnections: Int?

    @Option(help: "Idle connections kept per upstream and thread. Default 1024.")
    var maxIdlePerUpstream: Int?

    @Option(help: "Seconds a failed upstream stays out of service. Default 2.")
    var ejectSeconds: Double?

    @Option(help: "Failed answers in a row that eject an upstream. Default 3.")
    var ejectAfter: Int?

    @Option(
        help: "Admin address (host:port or Unix path) serving counters as JSON. Env GATEWAY_ADMIN.")
    var admin: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error. Env LOG_LEVEL. Default info.")
    var logLevel: String?

    mutating func run() async throws {
        let env = ProcessSupport.environment
        let paths =
            upstreams.isEmpty
            ? (env("GATEWAY_UPSTREAMS") ?? "").split(separator: ",").map { $0.trimmingSpaces }.filter {
                !$0.isEmpty
            }
            : upstreams
        guard !paths.isEmpty else {
            throw ValidationError("give upstreams with --upstream or GATEWAY_UPSTREAMS")
        }
        var config = GatewayConfiguration(upstreams: paths)
        let listenText = listen ?? env("GATEWAY_LISTEN") ?? "0.0.0.0:9999"
        guard let colon = listenText.lastIndex(of: ":"),
            let port = Int(listenText[listenText.index(after: colon)...])
        else { throw ValidationError("listen address must be host:port, got \(listenText)") }
        config.listenHost = listenText[..<colon].isEmpty ? "0.0.0.0" : String(listenText[..<colon])
        config.listenPort = port
        if let name = strategy?.rawValue ?? env("GATEWAY_STRATEGY") {
            guard let kind = BalancingStrategyKind(rawValue: name) else {
                throw ValidationError(
                    "unknown strategy \(name); one of \(BalancingStrategyKind.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            config.strategy = kind
        }
        if let value = threads ?? env("GATEWAY_THREADS").flatMap({ Int($0) }) {
            config.threads = max(1, value)
        }
        if let maxHeaderBytes { config.maxHeaderBytes = maxHeaderBytes }
        if let maxBodyBytes { config.maxBodyBytes = maxBodyBytes }
        if let maxResponseBytes { config.maxResponseBytes = maxResponseBytes }
        if let maxBufferedRequestBytes { config.maxBufferedRequestBytes = maxBufferedRequestBytes }
        if let headerTimeout { config.headerTimeout = .nanoseconds(Int64(headerTimeout * 1e9)) }
        if let idleTimeout { config.idleTimeout = .nanoseconds(Int64(idleTimeout * 1e9)) }
        if let upstreamTimeout { config.upstreamTimeout = .nanoseconds(Int64(upstreamTimeout * 1e9)) }
        if let maxConnections { config.maxConnections = maxConnections }
        if let maxIdlePerUpstream { config.maxIdleConnectionsPerUpstream = maxIdlePerUpstream }
        if let ejectSeconds { config.ejectDuration = .nanoseconds(Int64(ejectSeconds * 1e9)) }
        if let ejectAfter { config.ejectAfterFailures = ejectAfter }
        config.adminAddress = admin ?? env("GATEWAY_ADMIN")

        let logger = ProcessSupport.logger(label: "rinha-gateway", level: logLevel ?? env("LOG_LEVEL"))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: config.threads)
        let service = GatewayService(configuration: config, group: group, logger: logger)
        let serviceGroup = ServiceGroup(
            services: [service],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await serviceGroup.run()
        try await group.shutdownGracefully()
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
