import PaymentCore

/// The Valkey keys of one stack, all under one prefix so several stacks can share a server.
///
/// - `payments` (hash): correlationId -> the payment's record (see `PaymentRecord`). One field
///   per payment for its whole life: it is what makes a repeat harmless.
/// - `queue` (list): payloads `id|cents` waiting for a worker (pushed left, taken right).
/// - `processing:<worker>` (list): payloads a worker has taken and not yet settled.
/// - `workers` (set) and `heartbeat:<worker>` (string with a TTL): who is alive.
/// - `booked:<p>` (sorted set): score requestedAt ms, member `cents|id`.
/// - `seconds:<p>:count` / `seconds:<p>:cents` (hashes): per-second totals of `booked:<p>`, so a
///   summary over a long window reads one field per second instead of one member per payment.
/// - `leader` (string with a TTL), `health:<p>` and `health-poll:<p>`: health polling.
public struct StoreKeys: Sendable {
    public let prefix: String

    public init(prefix: String = "rinha") { self.prefix = prefix }

    public var payments: String { "\(prefix):payments" }
    public var queue: String { "\(prefix):queue" }
    public var workers: String { "\(prefix):workers" }
    public var leader: String { "\(prefix):leader" }
    public func processing(_ worker: String) -> String { "\(prefix):processing:\(worker)" }
    public func heartbeat(_ worker: String) -> String { "\(prefix):heartbeat:\(worker)" }
    public func booked(_ p: Processor) -> String { "\(prefix):booked:\(p.rawValue)" }
    public func secondsCount(_ p: Processor) -> String { "\(prefix):seconds:\(p.rawValue):count" }
    public func secondsCents(_ p: Processor) -> String { "\(prefix):seconds:\(p.rawValue):cents" }
    public func health(_ p: Processor) -> String { "\(prefix):health:\(p.rawValue)" }
    public func healthPoll(_ p: Processor) -> String { "\(prefix):health-poll:\(p.rawValue)" }
}
