import ArgumentParser
import Logging
import NIOCore
import NIOPosix
import NetworkEndpoint
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// What every executable of the stack does the same way: options that fall back to the
/// environment (compose sets variables, people pass flags), addresses, logging, and running one
/// service until SIGTERM or SIGINT.
public enum ProcessSupport {
    /// An environment variable's value; an empty one counts as unset (compose passes `VAR=`).
    /// Read with libc: Foundation's ProcessInfo would add megabytes to a static binary.
    public static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }

    /// A comma-separated environment variable as a list (spaces around items dropped).
    public static func list(_ name: String) -> [String] {
        (environment(name) ?? "").split(separator: ",").map { item in
            String(item.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
        }.filter { !$0.isEmpty }
    }

    /// An option's address, or a usage error naming the option.
    public static func endpoint(
        _ text: String, flag: String, defaultHost: String = "0.0.0.0", defaultPort: Int? = nil
    ) throws -> Endpoint {
        guard let endpoint = Endpoint(parsing: text, defaultHost: defaultHost, defaultPort: defaultPort) else {
            throw ValidationError("bad \(flag): \(text) (unix:/path or host:port)")
        }
        return endpoint
    }

    /// Sends swift-log to standard error and returns the process's logger at `level`
    /// (trace, debug, info, notice, warning, error, critical; anything else means info).
    public static func logger(label: String, level: String?) -> Logger {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: label)
        logger.logLevel = level.flatMap(Logger.Level.init(rawValue:)) ?? .info
        return logger
    }

    /// Runs a server until SIGTERM or SIGINT: `start` builds it on an event loop group of
    /// `threads` threads, `stop` drains and closes it, then the group shuts down.
    public static func serveUntilSignalled<Server: Sendable>(
        threads: Int, logger: Logger,
        start: @escaping @Sendable (MultiThreadedEventLoopGroup) async throws -> Server,
        stop: @escaping @Sendable (Server) async -> Void
    ) async throws {
        try await runUntilSignalled(threads: threads, logger: logger) { group in
            ServerService(start: { try await start(group) }, stop: stop)
        }
    }

    /// Runs the service `make` builds on an event loop group of `threads` threads until SIGTERM
    /// or SIGINT asks it to shut down gracefully, then shuts the group down.
    public static func runUntilSignalled(
        threads: Int, logger: Logger, _ make: (MultiThreadedEventLoopGroup) -> any Service
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        let serviceGroup = ServiceGroup(
            configuration: .init(
                services: [make(group)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await serviceGroup.run()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }
}

/// A server as a swift-service-lifecycle `Service`: started when the group runs, stopped (its
/// own drain: requests in progress finish) at graceful shutdown.
struct ServerService<Server: Sendable>: Service {
    let start: @Sendable () async throws -> Server
    let stop: @Sendable (Server) async -> Void

    func run() async throws {
        let server = try await start()
        try? await gracefulShutdown()
        await stop(server)
    }
}
