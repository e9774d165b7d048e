import NIOCore
import NetworkEndpoint

/// Everything the gateway can be told at start-up. Defaults suit the Rinha stack (tiny JSON
/// requests, two API instances on Unix sockets) and bound what any client can cost.
public struct GatewayConfiguration: Sendable {
    /// Where clients connect; TCP port 0 picks a free one (tests read it from `GatewayServer.port`).
    public var listen: Endpoint = .tcp(host: "0.0.0.0", port: 9999)
    /// Unix socket paths of the upstream HTTP servers (1 to 64).
    public var upstreams: [String]
    public var strategy: BalancingStrategyKind = .roundRobin
    /// Whether requests are proxied or whole connections handed over (`HandoffGateway`); in
    /// handoff mode `upstreams` are the APIs' handoff sockets.
    public var mode: GatewayMode = .proxy
    /// Event loop threads. One is enough for a few thousand requests per second and avoids
    /// cross-thread wake-ups; each thread has its own upstream connections.
    public var threads: Int = 1

    /// Largest request head (request line and headers), in bytes; beyond it: 431.
    public var maxHeaderBytes: Int = 8 * 1024
    /// Largest request body, in bytes as sent (chunk framing included); beyond it: 413, at once
    /// when a `Content-Length` announces it. The API refuses bodies over 1 KiB (a payment is about
    /// 70 bytes), so a few KiB lets the API give its own answer while nothing larger is held here.
    public var maxBodyBytes: Int = 4 * 1024
    /// Largest upstream response, in bytes; beyond it the client gets a 502. The API's largest
    /// answer (a summary) is a few hundred bytes.
    public var maxResponseBytes: Int = 64 * 1024
    /// Bytes of unfinished requests the connections of one event loop may hold together; a
    /// connection whose bytes would go beyond is answered 503 and closed. Bounds what many slow
    /// senders cost in total, where the per-request limits bound one of them.
    public var maxBufferedRequestBytes: Int = 4 * 1024 * 1024
    /// Time a client has to send a whole request once its first byte arrived.
    public var headerTimeout: TimeAmount = .seconds(10)
    /// Time a keep-alive client connection may stay without a request (or not reading its answer).
    public var idleTimeout: TimeAmount = .seconds(60)
    /// Time an upstream has to answer a request once it was written; then 504.
    public var upstreamTimeout: TimeAmount = .seconds(30)
    public var upstreamConnectTimeout: TimeAmount = .seconds(1)
    /// Client connections open at once. At the limit a new connection takes the place of the
    /// oldest idle one (no request in progress); if there is none it is closed on accept.
    public var maxConnections: Int = 2048
    /// Idle keep-alive connections kept per upstream and per thread.
    public var maxIdleConnectionsPerUpstream: Int = 1024
    /// How long a failed upstream stays out of service before it is tried again.
    public var ejectDuration: Duration = .seconds(2)
    /// Failed answers in a row (not refused connections, which eject at once) that eject an upstream.
    public var ejectAfterFailures: Int = 3
    /// Where to serve the counters as JSON; nil for nowhere.
    public var admin: Endpoint? = nil
    /// How long a graceful shutdown waits for requests in progress before closing everything.
    public var shutdownGracePeriod: TimeAmount = .seconds(10)

    public init(upstreams: [String]) {
        self.upstreams = upstreams
    }
}

/// How the gateway balances: each request through itself, or each connection handed over.
public enum GatewayMode: String, CaseIterable, Sendable {
    /// Every request crosses the gateway (`GatewayServer`): request-level balancing and limits.
    case proxy
    /// Every connection is handed to an API, which serves it (`HandoffGateway`).
    case handoff
}
