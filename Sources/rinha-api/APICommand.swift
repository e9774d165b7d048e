import API
import ArgumentParser
import Logging
import PaymentStore
import ProcessSupport

@main
struct APICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rinha-api",
        abstract: "Accepts payments into the Valkey queue and answers the payments summary.")

    @Option(help: "Where to listen: unix:/path/api.sock or host:port. Env: API_LISTEN.")
    var listen: String = ProcessSupport.environment("API_LISTEN") ?? "unix:/tmp/rinha-api.sock"

    @Option(help: "Valkey endpoint: unix:/path or host:port. Env: VALKEY_URL.")
    var valkey: String = ProcessSupport.environment("VALKEY_URL") ?? "127.0.0.1:6379"

    @Option(help: "Prefix of every Valkey key. Env: KEY_PREFIX.")
    var keyPrefix: String = ProcessSupport.environment("KEY_PREFIX") ?? "rinha"

    @Option(
        help:
            "Seconds a payment's record is kept (a repeat within it is recognised) and summaries stay exact to the ms; the same for every process of a stack. Env: RETENTION_SECONDS."
    )
    var retentionSeconds: Int64 = ProcessSupport.environment("RETENTION_SECONDS").flatMap(Int64.init) ?? 86_400

    @Option(help: "Largest request body in bytes (larger gets 413).")
    var maxBodySize: Int = 1024

    @Option(help: "Log level: trace, debug, info, notice, warning, error. Env: LOG_LEVEL.")
    var logLevel: String = ProcessSupport.environment("LOG_LEVEL") ?? "info"

    func run() async throws {
        let target = try ProcessSupport.endpoint(listen, flag: "--listen")
        let endpoint = try ProcessSupport.endpoint(
            valkey, flag: "--valkey", defaultHost: "127.0.0.1", defaultPort: 6379)
        let logger = ProcessSupport.logger(label: "rinha-api", level: logLevel)
        var config = APIConfiguration(listen: target, valkey: endpoint)
        config.keyPrefix = keyPrefix
        config.maxBodySize = maxBodySize
        config.retention = Retention(millis: retentionSeconds * 1000)
        try await ProcessSupport.runUntilSignalled(threads: 1, logger: logger) { group in
            APIService(configuration: config, group: group, logger: logger)
        }
    }
}
