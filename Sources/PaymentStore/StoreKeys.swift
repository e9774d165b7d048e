import PaymentCore

/// The Valkey keys of one stack, all under one prefix so several stacks can share a server.
/// The prefix is a hash tag (`{rinha}:queue`): every key of a stack lives in one slot, so the
/// lifecycle functions, which touch several keys at once, also run on a Valkey Cluster.
///
/// - `payments:<b>` (hash): correlationId -> the payment's record (see `PaymentRecord`), for
///   payments accepted in retention bucket `b`; expires two buckets later.
/// - `queue` (list): payloads `id|cents|b` waiting for a worker (pushed left, taken right).
/// - `processing:<worker>` (list): payloads a worker has taken and not yet settled.
/// - `workers` (set) and `heartbeat:<worker>` (string with a TTL): who is alive.
/// - `booked:<p>` (sorted set): score requestedAt ms, member `cents|id`; trimmed to the retention.
/// - `seconds:<p>:<hour>` (hash): `n<second>` / `c<second>`, count and cents booked per second
///   of that hour; expires a retention after the hour ends.
/// - `hours:<p>` (hash): `n<hour>` / `c<hour>`, count and cents per hour, kept for good (two
///   fields an hour: about 1 MB a year).
/// - `leader` (string with a TTL), `health:<p>` and `health-poll:<p>`: health polling.
public struct StoreKeys: Sendable {
    public let prefix: String
    /// Every key starts with this: `{prefix}`.
    public let tag: String

    public init(prefix: String = "rinha") {
        self.prefix = prefix
        self.tag = "{\(prefix)}"
    }

    public func payments(bucket: Int64) -> String { "\(tag):payments:\(bucket)" }
    public var queue: String { "\(tag):queue" }
    public var workers: String { "\(tag):workers" }
    public var leader: String { "\(tag):leader" }
    public func processing(_ worker: String) -> String { "\(tag):processing:\(worker)" }
    public func heartbeat(_ worker: String) -> String { "\(tag):heartbeat:\(worker)" }
    public func booked(_ p: Processor) -> String { "\(tag):booked:\(p.rawValue)" }
    public func seconds(_ p: Processor, hour: Int64) -> String { "\(tag):seconds:\(p.rawValue):\(hour)" }
    public func hours(_ p: Processor) -> String { "\(tag):hours:\(p.rawValue)" }
    public func health(_ p: Processor) -> String { "\(tag):health:\(p.rawValue)" }
    public func healthPoll(_ p: Processor) -> String { "\(tag):health-poll:\(p.rawValue)" }

    /// Booked sets and hour totals of both processors, in the order the functions take them.
    var bookedAndHours: [String] {
        [booked(.default), hours(.default), booked(.fallback), hours(.fallback)]
    }
}

/// How long the store keeps what idempotency and exact summaries need: a payment's record (a
/// repeat within it is recognised), each booked payment (summaries exact to the millisecond)
/// and per-second totals (exact to the second). Per-hour totals are kept for good. Every
/// process of a stack must use the same retention: it names the record buckets.
public struct Retention: Sendable, Equatable {
    public var millis: Int64

    public init(millis: Int64) { self.millis = max(1_000, millis) }

    public static let day = Retention(millis: 86_400_000)

    /// The bucket whose records hash holds payments accepted at `ms`.
    public func bucket(at ms: Int64) -> Int64 { ms / millis }

    /// When a bucket's records hash expires: a record lives at least one retention.
    public func expiry(ofBucket b: Int64) -> Int64 { (b + 2) * millis }
}

extension Int64 {
    /// The hour (since the epoch) that a millisecond instant falls in.
    var hourOfMillis: Int64 { self / 3_600_000 }
}
