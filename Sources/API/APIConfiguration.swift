import HTTPServerKit
import NetworkEndpoint
import PaymentStore
import ValkeyClient

/// Settings of one API process.
public struct APIConfiguration: Sendable {
    /// Where clients (the gateway) reach this API: a Unix socket or a TCP port.
    public var listen: Endpoint
    /// Where a gateway in handoff mode hands client connections over (a Unix socket), to be
    /// served here directly, and their limits; nil for none.
    public var handoff: HTTPServer.HandoffSettings? = nil
    /// Where Valkey listens.
    public var valkey: Endpoint
    /// Prefix of every Valkey key (several stacks may share one server).
    public var keyPrefix: String = "rinha"
    /// Largest request body accepted, in bytes; larger gets 413. A payment is about 70 bytes.
    public var maxBodySize: Int = 1024
    /// How long a request may wait for Valkey (across reconnects and a restart's loading) before
    /// the client gets a 503, in milliseconds. Kept under the official test's 1.5 s client timeout.
    public var enqueueDeadlineMillis: Int64 = 1000
    /// How long records and per-payment bookings are kept (see `Retention`).
    public var retention: Retention = .day

    public init(listen: Endpoint, valkey: Endpoint) {
        self.listen = listen
        self.valkey = valkey
    }
}
