import ArgumentParser
import Logging
import NIOPosix
import PaymentCore
import PaymentStore
import ProcessSupport
import ServiceLifecycle
import ValkeyClient
import Worker

#if canImport(Glibc)
    import Glibc
#endif

@main
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rinha-worker",
        abstract: "Sends queued payments to the payment processors and books them exactly once.")

    /// The library's defaults, where every flag with one takes it from (one place to change).
    private static let defaults = WorkerConfiguration(
        valkey: .unix(path: ""), workerID: "", processorURLs: [:])

    @Option(help: "Unique id of this worker; a restart with the same id takes back what it held. Env: WORKER_ID.")
    var workerID: String = ProcessSupport.environment("WORKER_ID") ?? "\(hostName())-\(getpid())"

    @Option(help: "Default processor base URL. Env: PROCESSOR_DEFAULT_URL.")
    var defaultURL: String =
        ProcessSupport.environment("PROCESSOR_DEFAULT_URL") ?? WorkerConfiguration.defaultProcessorURLs[.default]!

    @Option(help: "Fallback processor base URL. Env: PROCESSOR_FALLBACK_URL.")
    var fallbackURL: String =
        ProcessSupport.environment("PROCESSOR_FALLBACK_URL") ?? WorkerConfiguration.defaultProcessorURLs[.fallback]!

    @Option(help: "Payments in hand at once (sending, retrying or held). Env: MAX_IN_FLIGHT.")
    var maxInFlight: Int = ProcessSupport.environment("MAX_IN_FLIGHT").flatMap(Int.init) ?? Self.defaults.maxInFlight

    @Option(help: "Milliseconds before a processor call is given up as of unknown outcome.")
    var requestTimeoutMs: Int64 = Self.defaults.requestTimeoutMillis

    @Option(
        help:
            "Keep-alive connections to each processor at most; calls beyond wait for one. Env: MAX_CONNECTIONS."
    )
    var maxConnections: Int =
        ProcessSupport.environment("MAX_CONNECTIONS").flatMap(Int.init) ?? Self.defaults.maxConnectionsPerProcessor

    @Option(help: "A processor answering this slowly (ms) is avoided while the other is healthy.")
    var slowMs: Double = Self.defaults.routing.slowMillis

    @Option(help: "Default processor calls in flight beyond which new payments overflow to fallback.")
    var maxDefaultInFlight: Int?

    @Option(help: "Minimum milliseconds between two health calls to one processor, stack-wide.")
    var healthIntervalMs: Int = Self.defaults.healthIntervalMillis

    @Option(help: "Payments one claim or one booking call takes at most.")
    var claimBatch: Int = Self.defaults.claimBatch

    @Option(
        help: "Milliseconds to wait after a claim that found fewer payments than it could take. Env: CLAIM_LINGER_MS.")
    var claimLingerMs: Int =
        ProcessSupport.environment("CLAIM_LINGER_MS").flatMap(Int.init) ?? Self.defaults.claimLingerMillis

    @Option(
        help:
            "Milliseconds a processor's answer may wait for others to share its booking call (a claim sends it sooner). Env: BOOK_LINGER_MS."
    )
    var bookLingerMs: Int =
        ProcessSupport.environment("BOOK_LINGER_MS").flatMap(Int.init) ?? Self.defaults.bookLingerMillis

    @Option(
        help:
            "Payments claimed per second at most while a backlog drains; one not cleared in 10 s goes at full speed (0: no cap). Env: MAX_CLAIMS_PER_SECOND."
    )
    var maxClaimsPerSecond: Int =
        ProcessSupport.environment("MAX_CLAIMS_PER_SECOND").flatMap(Int.init) ?? Self.defaults.maxClaimsPerSecond

    @Option(help: "Event-loop threads.")
    var threads: Int = 1

    @OptionGroup var store: StoreOptions

    @OptionGroup var log: LogOptions

    func run() async throws {
        let endpoint = try store.valkeyEndpoint()
        guard maxInFlight > 0 else { throw ValidationError("--max-in-flight must be positive") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        let logger = log.logger(label: "rinha-worker")
        var config = WorkerConfiguration(
            valkey: endpoint, workerID: workerID, processorURLs: [.default: defaultURL, .fallback: fallbackURL])
        config.keyPrefix = store.keyPrefix
        config.maxInFlight = maxInFlight
        config.requestTimeoutMillis = requestTimeoutMs
        config.maxConnectionsPerProcessor = maxConnections
        config.routing.maxCallsPerProcessor = maxConnections
        config.routing.slowMillis = slowMs
        // Beyond the pool's connections, calls to default would wait in the pool: overflowing them
        // to fallback instead is what the limit is for.
        config.routing.maxDefaultInFlight = maxDefaultInFlight ?? min(maxConnections, max(1, maxInFlight * 9 / 10))
        config.healthIntervalMillis = healthIntervalMs
        config.retention = Retention(millis: store.retentionMillis)
        config.claimLingerMillis = max(0, claimLingerMs)
        config.bookLingerMillis = max(0, bookLingerMs)
        config.claimBatch = max(1, claimBatch)
        config.maxClaimsPerSecond = max(0, maxClaimsPerSecond)
        try await ProcessSupport.runUntilSignalled(threads: threads, logger: logger) { group in
            WorkerService(configuration: config, group: group, logger: logger)
        }
    }
}

func hostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count) == 0 else { return "worker" }
    return String(cString: buffer)
}
