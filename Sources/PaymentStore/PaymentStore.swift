import NIOCore
import PaymentCore
import ValkeyClient

/// The payments' shared state in Valkey: the queue, each payment's record, the booked totals,
/// the workers' liveness and the health-polling lease. Every method is one round trip.
public struct PaymentStore: Sendable {
    public let client: ValkeyClient
    public let keys: StoreKeys

    public init(client: ValkeyClient, keys: StoreKeys = StoreKeys()) {
        self.client = client
        self.keys = keys
    }

    func eval(_ script: String, keys: [String], args: [String]) -> EventLoopFuture<RESPValue> {
        client.send(RESPCommand(["EVAL", script, String(keys.count)] + keys + args))
    }

    func evalChecked(_ script: String, keys: [String], args: [String]) async throws -> RESPValue {
        let reply = try await eval(script, keys: keys, args: args).get()
        if case .error(let message) = reply { throw ValkeyError.server(message) }
        return reply
    }

    // MARK: API side

    public enum AcceptOutcome: Sendable, Equatable {
        case queued
        /// The same correlationId with the same amount was accepted before: nothing new queued.
        case repeated
        /// The correlationId belongs to a payment with another amount: refused.
        case conflict
    }

    /// Records and queues a payment once; a repeat changes nothing. Safe to send again after
    /// `connectionLost`.
    public func accept(_ payment: PaymentRequest) -> EventLoopFuture<AcceptOutcome> {
        eval(
            Scripts.accept, keys: [keys.payments, keys.queue],
            args: [payment.correlationID, String(payment.amount.cents)]
        ).flatMapThrowing { reply in
            switch reply {
            case .integer(1): return .queued
            case .integer(0): return .repeated
            case .integer(-1): return .conflict
            case .error(let message): throw ValkeyError.server(message)
            default: throw ValkeyError.unexpectedReply("\(reply)")
            }
        }
    }

    /// Totals booked per processor with requestedAt inside the inclusive window.
    public func summary(_ window: TimeWindow) -> EventLoopFuture<PaymentsSummary> {
        eval(
            Scripts.summary,
            keys: [
                keys.booked(.default), keys.secondsCount(.default), keys.secondsCents(.default),
                keys.booked(.fallback), keys.secondsCount(.fallback), keys.secondsCents(.fallback),
            ],
            args: [window.from.map(String.init) ?? "", window.to.map(String.init) ?? ""]
        ).flatMapThrowing { reply in
            guard case .array(let v) = reply, v.count == 4, let dn = v[0].integer, let dc = v[1].integer,
                let fn = v[2].integer, let fc = v[3].integer
            else {
                if case .error(let message) = reply { throw ValkeyError.server(message) }
                throw ValkeyError.unexpectedReply("\(reply)")
            }
            return PaymentsSummary(
                default: ProcessorTotals(totalRequests: dn, totalAmount: Money(cents: dc)),
                fallback: ProcessorTotals(totalRequests: fn, totalAmount: Money(cents: fc)))
        }
    }

    /// Clears every payment: queued, being processed and booked.
    public func purge() -> EventLoopFuture<Void> {
        var k = [keys.payments, keys.queue, keys.workers]
        for p in Processor.allCases { k += [keys.booked(p), keys.secondsCount(p), keys.secondsCents(p)] }
        return eval(Scripts.purge, keys: k, args: [keys.prefix]).flatMapThrowing { reply in
            if case .error(let message) = reply { throw ValkeyError.server(message) }
        }
    }

    // MARK: Worker side

    /// Moves up to `limit` payloads from the queue to `worker`'s processing list.
    public func claim(worker: String, limit: Int) async throws -> [QueuedPayment] {
        let reply = try await evalChecked(
            Scripts.claim, keys: [keys.queue, keys.processing(worker)], args: [String(limit)])
        return (reply.array ?? []).compactMap { $0.string.flatMap(QueuedPayment.init(payload:)) }
    }

    /// Blocks (on its own connection: `blockingClient`) until a payload is there, then moves it
    /// to `worker`'s processing list. Nil after `timeoutSeconds`.
    public static func claimBlocking(
        client blockingClient: ValkeyClient, keys: StoreKeys, worker: String, timeoutSeconds: Double
    ) async throws -> QueuedPayment? {
        let reply = try await blockingClient.call(
            "BLMOVE", keys.queue, keys.processing(worker), "RIGHT", "LEFT", String(timeoutSeconds))
        return reply.string.flatMap(QueuedPayment.init(payload:))
    }

    /// Starts (or resumes) an attempt: returns the record to act on, nil if the payment was
    /// purged. See `Scripts.begin`.
    public func begin(_ payment: QueuedPayment, proposed: PaymentRecord.Attempt) async throws -> PaymentRecord? {
        let reply = try await evalChecked(
            Scripts.begin, keys: [keys.payments],
            args: [payment.correlationID, String(payment.amount.cents), proposed.text])
        if reply == .null { return nil }
        guard let text = reply.string, let record = PaymentRecord(text: text) else {
            throw ValkeyError.unexpectedReply("\(reply)")
        }
        return record
    }

    /// Replaces `expected` by `new` only if `expected` is still the stored record; returns what
    /// is stored afterwards (nil if the payment has no record: purged).
    public func compareAndSet(id: String, expected: PaymentRecord, new: PaymentRecord) async throws -> PaymentRecord? {
        let reply = try await evalChecked(
            Scripts.compareAndSet, keys: [keys.payments], args: [id, expected.text, new.text])
        return reply.string.flatMap(PaymentRecord.init(text:))
    }

    /// Books the payment under the attempt's processor and requestedAt and takes it off the
    /// worker's list. True if this call booked it, false if it was booked already or purged.
    @discardableResult
    public func book(_ payment: QueuedPayment, attempt: PaymentRecord.Attempt, worker: String) async throws -> Bool {
        let p = attempt.processor
        let reply = try await evalChecked(
            Scripts.book,
            keys: [keys.payments, keys.booked(p), keys.secondsCount(p), keys.secondsCents(p), keys.processing(worker)],
            args: [
                payment.correlationID, String(payment.amount.cents), String(attempt.requestedAt), p.code,
                payment.payload,
            ])
        return reply.integer == 1
    }

    /// Takes a payload off the worker's list without booking (it was booked by someone else).
    public func drop(_ payment: QueuedPayment, worker: String) async throws {
        _ = try await client.call("LREM", keys.processing(worker), "-1", payment.payload)
    }

    /// Hands every payload of the worker's list back to the queue (graceful stop, or start-up).
    @discardableResult
    public func release(worker: String) async throws -> Int {
        Int(try await evalChecked(Scripts.release, keys: [keys.processing(worker), keys.queue], args: []).integer ?? 0)
    }

    /// Hands back these payloads if they are still on the worker's list.
    @discardableResult
    public func requeue(_ payloads: [String], worker: String) async throws -> Int {
        guard !payloads.isEmpty else { return 0 }
        return Int(
            try await evalChecked(Scripts.requeue, keys: [keys.processing(worker), keys.queue], args: payloads)
                .integer ?? 0)
    }

    /// Every payload on the worker's processing list.
    public func processing(worker: String) async throws -> [String] {
        (try await client.call("LRANGE", keys.processing(worker), "0", "-1").array ?? []).compactMap(\.string)
    }

    /// Marks the worker alive for `ttlMillis`.
    public func heartbeat(worker: String, ttlMillis: Int) async throws {
        async let registered = client.call("SADD", keys.workers, worker)
        async let alive = client.call("SET", keys.heartbeat(worker), "1", "PX", String(ttlMillis))
        _ = try await (registered, alive)
    }

    /// Removes the worker's liveness (graceful stop).
    public func retire(worker: String) async throws {
        async let a = client.call("SREM", keys.workers, worker)
        async let b = client.call("DEL", keys.heartbeat(worker))
        _ = try await (a, b)
    }

    /// Returns the payloads of workers whose heartbeat expired to the queue.
    @discardableResult
    public func reapDeadWorkers() async throws -> Int {
        Int(try await evalChecked(Scripts.reap, keys: [keys.workers, keys.queue], args: [keys.prefix]).integer ?? 0)
    }

    /// How many payments wait in the queue.
    public func queueLength() async throws -> Int {
        Int(try await client.call("LLEN", keys.queue).integer ?? 0)
    }

    /// The stored record of a payment, if any.
    public func record(id: String) async throws -> PaymentRecord? {
        try await client.call("HGET", keys.payments, id).string.flatMap(PaymentRecord.init(text:))
    }

    // MARK: Health polling

    /// Takes or renews the polling lease. True while `owner` is the leader.
    public func holdLease(owner: String, ttlMillis: Int) async throws -> Bool {
        try await evalChecked(Scripts.holdLease, keys: [keys.leader], args: [owner, String(ttlMillis)]).integer == 1
    }

    public func dropLease(owner: String) async throws {
        _ = try await evalChecked(Scripts.dropLease, keys: [keys.leader], args: [owner])
    }

    /// Stack-wide gate: true at most once per `intervalMillis` per processor, whoever asks.
    public func mayPollHealth(_ p: Processor, intervalMillis: Int) async throws -> Bool {
        try await client.call("SET", keys.healthPoll(p), "1", "NX", "PX", String(intervalMillis)).string == "OK"
    }

    public func publishHealth(_ p: Processor, _ health: ProcessorHealth) async throws {
        _ = try await client.call("SET", keys.health(p), health.text, "PX", "60000")
    }

    public func readHealth() async throws -> [Processor: ProcessorHealth] {
        let reply = try await client.call("MGET", keys.health(.default), keys.health(.fallback))
        var result: [Processor: ProcessorHealth] = [:]
        for (p, value) in zip(Processor.allCases, reply.array ?? []) {
            if let text = value.string, let h = ProcessorHealth(text: text) { result[p] = h }
        }
        return result
    }
}

/// What a processor's health endpoint said, and when (epoch ms).
public struct ProcessorHealth: Sendable, Equatable {
    public var failing: Bool
    public var minResponseTime: Int
    public var polledAt: Int64

    public init(failing: Bool, minResponseTime: Int, polledAt: Int64) {
        self.failing = failing
        self.minResponseTime = minResponseTime
        self.polledAt = polledAt
    }

    public var text: String { "\(failing ? 1 : 0)|\(minResponseTime)|\(polledAt)" }

    public init?(text: String) {
        let parts = text.split(separator: "|")
        guard parts.count == 3, let rt = Int(parts[1]), let at = Int64(parts[2]) else { return nil }
        self.init(failing: parts[0] == "1", minResponseTime: rt, polledAt: at)
    }
}
