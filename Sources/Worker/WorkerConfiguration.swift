import NetworkEndpoint
import PaymentCore
import PaymentStore
import ValkeyClient

/// Settings of one worker process. Times in milliseconds.
public struct WorkerConfiguration: Sendable {
    public var valkey: Endpoint
    public var keyPrefix: String = "rinha"
    /// How long records and per-payment bookings are kept (see `Retention`).
    public var retention: Retention = .day
    /// Unique among live workers; a worker restarted with the same id takes back what it held.
    public var workerID: String
    public var processorURLs: [Processor: String]
    /// Payments this worker has in hand at once (sending, retrying or waiting for a processor).
    public var maxInFlight: Int = 500
    /// How many payments one claim (and one booking call) takes at most. Valkey runs one call at
    /// a time: a longer one holds up the APIs' accepts behind it, so batches stay small enough
    /// to keep each call well under a millisecond while a backlog drains.
    public var claimBatch: Int = 16
    /// After a claim that found fewer payments than it could take, wait this long before the
    /// next one, so that a trickle is claimed, sent and booked in small batches rather than
    /// one by one (each payment waits at most this much more; its client already has its 202).
    /// 25 ms rather than 10 (with `bookLingerMillis` 10 rather than 0): in the preview, 17 % fewer
    /// context switches and 11 % less CPU per payment across the stack, p99 within noise.
    public var claimLingerMillis: Int = 25
    /// How long a processor's answer may wait for others before its booking call goes out, so
    /// that a trickle of answers shares one call (0: the next event-loop tick). A claim made
    /// meanwhile takes what waits along, in the same write. Not longer: 30 ms (so that bookings
    /// would nearly always wait for a claim) cut context switches 10 % but raised the preview's
    /// p99 1.2-1.3x in two sets of runs (most likely because Valkey runs one client's pipelined
    /// calls back to back, and the larger batches held up the accepts behind them). This only
    /// delays the summary, by far less than the checker's 2 s lag.
    public var bookLingerMillis: Int = 10
    /// Payments this worker claims per second at most while it drains a backlog (0: no cap), so
    /// that a backlog left by an outage drains at a steady pace rather than in one burst
    /// (`ClaimPacer`). Meant to be well above the load's steady rate: compose.yaml sets it for
    /// the Rinha workload. A backlog it has not cleared in `claimPatienceMillis` is claimed at
    /// full speed until the queue is empty.
    public var maxClaimsPerSecond: Int = 0
    public var claimPatienceMillis: Int64 = 10_000
    /// On stop, how long payments out at processors may take to finish before the rest is
    /// handed back.
    public var drainMillis: Int = 10_000
    /// A processor call with no answer after this long is given up as ambiguous.
    public var requestTimeoutMillis: Int64 = 10_000
    /// Keep-alive connections to each processor at most; calls beyond wait for a free one.
    public var maxConnectionsPerProcessor: Int = ProcessorClient.defaultMaxConnections
    /// Routing thresholds (see `RoutingPolicy`).
    public var routing = RoutingPolicy()
    /// Health endpoint: at most one call per processor per this interval, stack-wide. Half a
    /// second over the processor's 5 s window, so that a call that left late cannot land
    /// inside the next window too early and be held.
    public var healthIntervalMillis: Int = 5_500
    /// The leader's lease; another worker takes over this long after the leader died.
    public var leaseMillis: Int = 3_000
    /// A worker whose heartbeat is this old is dead: what it held goes back to the queue.
    public var heartbeatTTLMillis: Int = 3_000

    public init(valkey: Endpoint, workerID: String, processorURLs: [Processor: String]) {
        self.valkey = valkey
        self.workerID = workerID
        self.processorURLs = processorURLs
    }

    /// Where the official stack's processors answer (their compose service names).
    public static let defaultProcessorURLs: [Processor: String] = [
        .default: "http://payment-processor-default:8080",
        .fallback: "http://payment-processor-fallback:8080",
    ]
}
