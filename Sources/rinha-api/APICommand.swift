import API
import ArgumentParser
import HTTPServerKit
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

    @Option(
        help: """
            A Unix socket (unix:/path) where a gateway in handoff mode hands client connections over; \
            none by default. Env: API_HANDOFF.
            """)
    var handoff: String? = ProcessSupport.environment("API_HANDOFF")

    @Option(
        help: """
            Handed-over connections open at once; at the limit a new one takes the place of the oldest \
            idle one. Env: API_MAX_CONNECTIONS.
            """)
    var maxConnections: Int =
        ProcessSupport.environment("API_MAX_CONNECTIONS").flatMap { Int($0) }
        ?? HTTPServer.HandoffSettings(path: "").maxConnections

    @Option(help: "Largest request body in bytes (larger gets 413).")
    var maxBodySize: Int = 1024

    @OptionGroup var store: StoreOptions

    @OptionGroup var log: LogOptions

    func run() async throws {
        let target = try ProcessSupport.endpoint(listen, flag: "--listen")
        let endpoint = try store.valkeyEndpoint()
        let logger = log.logger(label: "rinha-api")
        var config = APIConfiguration(listen: target, valkey: endpoint)
        if let handoff {
            guard case .unix(let path) = try ProcessSupport.endpoint(handoff, flag: "--handoff") else {
                throw ValidationError("--handoff is a Unix socket (unix:/path), got \(handoff)")
            }
            var handoffSettings = HTTPServer.HandoffSettings(path: path)
            handoffSettings.maxConnections = max(1, maxConnections)
            config.handoff = handoffSettings
        }
        config.keyPrefix = store.keyPrefix
        config.maxBodySize = maxBodySize
        config.retention = Retention(millis: store.retentionMillis)
        let configuration = config
        try await ProcessSupport.serveUntilSignalled(threads: 1, logger: logger) { group in
            try await APIServer.start(configuration: configuration, group: group, logger: logger)
        } stop: { server in
            logger.info("api stopping: answering the requests in progress")
            await server.close()
        }
    }
}
