import HTTPServerKit
import Logging
import NIOCore
import NIOPosix
import PaymentStore
import ValkeyClient

/// A running API: its HTTP listener and its Valkey connection, on one event loop.
public final class APIServer: Sendable {
    public let http: HTTPServer
    public let valkey: ValkeyClient

    private init(http: HTTPServer, valkey: ValkeyClient) {
        self.http = http
        self.valkey = valkey
    }

    /// Builds and starts the API; used by `main` and by the tests.
    public static func start(configuration: APIConfiguration, group: any EventLoopGroup, logger: Logger)
        async throws -> APIServer
    {
        // One event loop for everything: the HTTP connections and Valkey share it, so a payment
        // goes from socket to Valkey and back without a thread hop.
        let eventLoop = group.next()
        // A command waits only briefly for a connection: the routes retry transient failures
        // themselves until their own deadline, which must bound the client's answer time.
        var valkeyConfiguration = ValkeyConfiguration(endpoint: configuration.valkey)
        valkeyConfiguration.waitForConnection = .milliseconds(200)
        let valkey = ValkeyClient(configuration: valkeyConfiguration, eventLoop: eventLoop, logger: logger)
        let store = PaymentStore(
            client: valkey, keys: StoreKeys(prefix: configuration.keyPrefix), retention: configuration.retention)
        let routes = APIRoutes(store: store, configuration: configuration)
        let http = try await HTTPServer.start(
            target: configuration.listen, group: eventLoop, maxBodySize: configuration.maxBodySize,
            handoff: configuration.handoff, logger: logger
        ) { request, responder in
            routes.respond(to: request, with: responder)
        }
        logger.info(
            "api listening",
            metadata: [
                "listen": "\(configuration.listen)", "handoff": "\(configuration.handoff?.path ?? "none")",
                "valkey": "\(configuration.valkey)",
            ])
        return APIServer(http: http, valkey: valkey)
    }

    /// Stops accepting, answers the requests in progress (their Valkey calls finish first), then
    /// closes the Valkey connection.
    public func close() async {
        await http.close()
        await valkey.close()
    }
}
