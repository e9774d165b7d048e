import ArgumentParser
import Logging
import ProcessSupport
import ProcessorSimulator

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A drop-in, in-memory stand-in for the official Rinha 2025 Payment Processor image. Flags fall
/// back to environment variables (the official image's names where it has one).
@main
struct ProcessorSimulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "processor-simulator",
        abstract:
            "An in-memory Rinha de Backend 2025 Payment Processor (payments, service-health, admin API).")

    @Option(help: "TCP port to listen on. Env: PORT.")
    var port: Int = ProcessSupport.environment("PORT").flatMap { Int($0) } ?? 8080

    @Option(help: "Address to bind. Env: HOST.")
    var host: String = ProcessSupport.environment("HOST") ?? "0.0.0.0"

    @Option(help: "Fee rate as a plain decimal, e.g. 0.05 for 5 %. Env: TRANSACTION_FEE.")
    var fee: String = ProcessSupport.environment("TRANSACTION_FEE") ?? "0.05"

    @Option(help: "Initial admin token (header X-Rinha-Token). Env: INITIAL_TOKEN.")
    var token: String = ProcessSupport.environment("INITIAL_TOKEN") ?? "123"

    @Option(help: "Health-check rate-limit window, ms. Env: HEALTH_WINDOW_MS, or RATE_LIMIT_SECONDS.")
    var healthWindowMs: Int64 =
        ProcessSupport.environment("HEALTH_WINDOW_MS").flatMap { Int64($0) } ?? ProcessSupport.environment(
            "RATE_LIMIT_SECONDS"
        ).flatMap { Int64($0) }
        .map { $0 * 1000 }
        ?? 5000

    @Option(help: "POST /payments processed at once. Env: MAX_IN_FLIGHT.")
    var maxInFlight: Int = ProcessSupport.environment("MAX_IN_FLIGHT").flatMap { Int($0) } ?? 800

    @Option(help: "POST /payments waiting for a slot (beyond: 429). Env: MAX_QUEUED.")
    var maxQueued: Int = ProcessSupport.environment("MAX_QUEUED").flatMap { Int($0) } ?? 500

    @Option(
        help:
            "Body framing: chunked (as Kestrel) or content-length (for clients that cannot read chunks). Env: FRAMING."
    )
    var framing: String = ProcessSupport.environment("FRAMING") ?? ResponseFraming.chunked.rawValue

    @Option(help: "Event loop threads. Env: THREADS.")
    var threads: Int = ProcessSupport.environment("THREADS").flatMap { Int($0) } ?? 1

    @OptionGroup var log: LogOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard healthWindowMs > 0 else { throw ValidationError("--health-window-ms must be positive") }
        guard maxInFlight >= 1, maxQueued >= 0 else {
            throw ValidationError("--max-in-flight must be >= 1 and --max-queued >= 0")
        }
        guard threads >= 1 else { throw ValidationError("--threads must be >= 1") }
        guard ResponseFraming(rawValue: framing) != nil else {
            throw ValidationError("--framing must be chunked or content-length")
        }
    }

    func run() async throws {
        let logger = log.logger(label: "processor-simulator")
        let configuration = SimulatorConfiguration(
            host: host, port: port, feeRate: fee, token: token, healthWindowMillis: healthWindowMs,
            maxInFlight: maxInFlight, maxQueued: maxQueued, framing: ResponseFraming(rawValue: framing) ?? .chunked)
        try await ProcessSupport.serveUntilSignalled(threads: threads, logger: logger) { group in
            let simulator = try await ProcessorSimulator.start(configuration: configuration, group: group)
            logger.info(
                "payment processor simulator listening",
                metadata: [
                    "host": "\(configuration.host)", "port": "\(simulator.port)", "fee": "\(configuration.feeRate)",
                ])
            return simulator
        } stop: { simulator in
            logger.info("shutting down")
            await simulator.close()
        }
    }
}
