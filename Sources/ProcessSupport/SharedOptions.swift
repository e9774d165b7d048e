import ArgumentParser
import Logging
import NetworkEndpoint

/// The options of every process that works on the payments' store (the API and the workers),
/// spelled and defaulted the same way in both.
public struct StoreOptions: ParsableArguments {
    @Option(help: "Valkey endpoint: unix:/path or host:port. Env: VALKEY_URL.")
    public var valkey: String = ProcessSupport.environment("VALKEY_URL") ?? "127.0.0.1:6379"

    @Option(help: "Prefix of every Valkey key. Env: KEY_PREFIX.")
    public var keyPrefix: String = ProcessSupport.environment("KEY_PREFIX") ?? "rinha"

    @Option(
        help: """
            Seconds a payment's record is kept (a repeat within it is recognised) and summaries stay \
            exact to the ms; the same for every process of a stack. Env: RETENTION_SECONDS.
            """)
    public var retentionSeconds: Int64 = ProcessSupport.environment("RETENTION_SECONDS").flatMap(Int64.init) ?? 86_400

    public init() {}

    /// Where Valkey is; a bare host means port 6379.
    public func valkeyEndpoint() throws -> Endpoint {
        try ProcessSupport.endpoint(valkey, flag: "--valkey", defaultHost: "127.0.0.1", defaultPort: 6379)
    }

    public var retentionMillis: Int64 { retentionSeconds * 1000 }
}

/// The logging option of every executable.
public struct LogOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning, error. Env: LOG_LEVEL.")
    public var logLevel: String = ProcessSupport.environment("LOG_LEVEL") ?? "info"

    public init() {}

    /// Sends swift-log to standard error and returns the process's logger.
    public func logger(label: String) -> Logger { ProcessSupport.logger(label: label, level: logLevel) }
}
