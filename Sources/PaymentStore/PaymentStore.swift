import NIOConcurrencyHelpers
import NIOCore
import PaymentCore
import ValkeyClient

/// The payments' shared state in Valkey: the queue, each payment's record, the booked totals,
/// the workers' liveness and the health-polling lease. Each method is one call of the
/// lifecycle library (`PaymentLifecycle`), except where it says otherwise.
public struct PaymentStore: Sendable {
    public let client: ValkeyClient
    public let keys: StoreKeys
    public let retention: Retention
    private let loader = LibraryLoader()

    public init(client: ValkeyClient, keys: StoreKeys = StoreKeys(), retention: Retention = .day) {
        self.client = client
        self.keys = keys
        self.retention = retention
    }

    /// Calls a function of the lifecycle library. A server that does not have the library yet
    /// (new, or emptied) gets it loaded and the call sent again: loading is idempotent and the
    /// call had not run.
    func fcall(_ name: String, keys: [String], args: [String]) -> EventLoopFuture<RESPValue> {
        let command = RESPCommand(["FCALL", name, String(keys.count)] + keys + args)
        let client = self.client
        let loader = self.loader
        return client.send(command).flatMap { reply in
            guard case .error(let message) = reply, message.contains("Function not found") else {
                return client.eventLoop.makeSucceededFuture(reply)
            }
            return loader.load(on: client).flatMap { loaded in
                if case .error = loaded { return client.eventLoop.makeSucceededFuture(loaded) }
                return client.send(command)
            }
        }
    }

    func fcallChecked(_ name: String, keys: [String], args: [String]) async throws -> RESPValue {
        let reply = try await fcall(name, keys: keys, args: args).get()
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
        /// Valkey ran the call after `deadlineMillis`: nothing stored (the client was told no).
        case late
    }

    /// Records and queues a payment once; a repeat (within the retention) changes nothing. Safe
    /// to send again after `connectionLost`. With a deadline (epoch ms, Valkey's clock), a call
    /// that Valkey only gets to later (stalled, or a backlog) stores nothing, so a client that was
    /// answered 503 at its deadline was told the truth.
    public func accept(
        _ payment: PaymentRequest, deadlineMillis: Int64 = 0, now: Int64 = WallClock.nowMillis()
    ) -> EventLoopFuture<AcceptOutcome> {
        let b = retention.bucket(at: now)
        return fcall(
            "accept", keys: [keys.payments(bucket: b), keys.payments(bucket: b - 1), keys.queue],
            args: [
                payment.correlationID, String(payment.amount.cents), String(b), String(retention.expiry(ofBucket: b)),
                String(deadlineMillis),
            ]
        ).flatMapThrowing { reply in
            switch reply {
            case .integer(1): return .queued
            case .integer(0): return .repeated
            case .integer(-1): return .conflict
            case .integer(-2): return .late
            case .error(let message): throw ValkeyError.server(message)
            default: throw ValkeyError.unexpectedReply("\(reply)")
            }
        }
    }

    /// Totals booked per processor with requestedAt inside the inclusive window. Exact to the
    /// millisecond within the retention; beyond it, exact for whole hours (see `Retention`).
    public func summary(_ window: TimeWindow) -> EventLoopFuture<PaymentsSummary> {
        // The hours of the window's first and last whole seconds (as the function computes them).
        let firstSecond = window.from.map { ($0 + 999) / 1000 }
        let lastSecond = window.to.map { ($0 + 1) / 1000 - 1 }
        let firstHour = (firstSecond ?? lastSecond ?? 0) / 3600
        let lastHour = (lastSecond ?? firstSecond ?? 0) / 3600
        let k = Processor.allCases.flatMap {
            [keys.booked($0), keys.hours($0), keys.seconds($0, hour: firstHour), keys.seconds($0, hour: lastHour)]
        }
        return fcall("summary", keys: k, args: [window.from.map(String.init) ?? "", window.to.map(String.init) ?? ""])
            .flatMapThrowing { reply in
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

    /// Clears every payment queued or booked; attempts in flight finish (see the `purge`
    /// function). Returns how many attempts in flight were kept.
    @discardableResult
    public func purge(now: Int64 = WallClock.nowMillis()) -> EventLoopFuture<Int> {
        let b = retention.bucket(at: now)
        let records = (b - 2...b + 1).map { keys.payments(bucket: $0) }
        let firstHour = (now - retention.millis).hourOfMillis - 1
        let seconds = Processor.allCases.flatMap { p in
            (firstHour...now.hourOfMillis + 1).map { keys.seconds(p, hour: $0) }
        }
        return fcall(
            "purge", keys: [keys.queue] + keys.bookedAndHours + records + seconds, args: [String(records.count)]
        ).flatMapThrowing { reply in
            if case .error(let message) = reply { throw ValkeyError.server(message) }
            return Int(reply.integer ?? 0)
        }
    }

    // MARK: Worker side

    /// A payment a claim handed to a worker, with the attempt to make (nil: the claim could not
    /// reach its record; `begin` it).
    public struct Claimed: Sendable, Equatable {
        public var payment: QueuedPayment
        public var record: PaymentRecord?

        public init(payment: QueuedPayment, record: PaymentRecord?) {
            self.payment = payment
            self.record = record
        }
    }

    /// Moves up to `limit` payments from the queue to `worker`'s list and starts their attempts
    /// (`processor`, `requestedAt`) in the same call; a payment that already had an attempt comes
    /// back pinned to it. `adopting` is a payload already moved to the list (by `BLMOVE`).
    public func claim(
        worker: String, limit: Int, processor: Processor, requestedAt: Int64, adopting: String? = nil
    ) async throws -> [Claimed] {
        // Payloads of these buckets are begun in the claim; older ones have expired records,
        // newer ones come from a clock far ahead (`begin` handles either).
        let b = retention.bucket(at: WallClock.nowMillis())
        let buckets = Array(b - 2...b + 1)
        let reply = try await fcallChecked(
            "claim",
            keys: [keys.queue, keys.processing(worker)] + buckets.map { keys.payments(bucket: $0) },
            args: [String(limit), processor.code, String(requestedAt), adopting ?? ""] + buckets.map(String.init))
        let flat = reply.array ?? []
        var claimed: [Claimed] = []
        claimed.reserveCapacity(flat.count / 2)
        var i = 0
        while i + 1 < flat.count {
            if let payload = flat[i].string, let payment = QueuedPayment(payload: payload),
                let text = flat[i + 1].string
            {
                claimed.append(Claimed(payment: payment, record: PaymentRecord(text: text)))
            }
            i += 2
        }
        return claimed
    }

    /// Blocks (on its own connection: `blockingClient`) until a payload is there, then moves it
    /// to `worker`'s processing list and returns it (to be adopted by `claim`). Nil after
    /// `timeoutSeconds`. Only used while the queue is empty: a busy queue is claimed in batches.
    public static func awaitPayload(
        client blockingClient: ValkeyClient, keys: StoreKeys, worker: String, timeoutSeconds: Double
    ) async throws -> String? {
        try await blockingClient.call(
            "BLMOVE", keys.queue, keys.processing(worker), "RIGHT", "LEFT", String(timeoutSeconds)
        ).string
    }

    /// Starts (or resumes) the attempt of one payment: returns the record to act on, nil if the
    /// payment was purged. See the `begin` function.
    public func begin(_ payment: QueuedPayment, proposed: PaymentRecord.Attempt) async throws -> PaymentRecord? {
        let reply = try await fcallChecked(
            "begin", keys: [keys.payments(bucket: payment.bucket)], args: [payment.correlationID, proposed.text])
        if reply == .null { return nil }
        guard let text = reply.string, let record = PaymentRecord(text: text) else {
            throw ValkeyError.unexpectedReply("\(reply)")
        }
        return record
    }

    /// Replaces `expected` by `new` only if `expected` is still the stored record; returns what
    /// is stored afterwards (nil if the payment has no record: purged).
    public func compareAndSet(_ payment: QueuedPayment, expected: PaymentRecord, new: PaymentRecord) async throws
        -> PaymentRecord?
    {
        let reply = try await fcallChecked(
            "reroute", keys: [keys.payments(bucket: payment.bucket)],
            args: [payment.correlationID, expected.text, new.text])
        return reply.string.flatMap(PaymentRecord.init(text:))
    }

    /// Puts a payment whose attempt `expected` was refused back at the head of the queue, queued
    /// again, unless someone pinned or booked it meanwhile; returns what is stored afterwards.
    public func unclaim(_ payment: QueuedPayment, expected: PaymentRecord.Attempt, worker: String) async throws
        -> PaymentRecord?
    {
        let reply = try await fcallChecked(
            "unclaim", keys: [keys.payments(bucket: payment.bucket), keys.processing(worker), keys.queue],
            args: [payment.correlationID, expected.text, payment.payload])
        return reply.string.flatMap(PaymentRecord.init(text:))
    }

    /// A payment the processor has, to be booked under its attempt.
    public struct Booking: Sendable {
        public var payment: QueuedPayment
        public var attempt: PaymentRecord.Attempt

        public init(payment: QueuedPayment, attempt: PaymentRecord.Attempt) {
            self.payment = payment
            self.attempt = attempt
        }
    }

    /// Books payments under their attempts' processor and requestedAt and takes them off the
    /// worker's list, in one call; also trims booked payments older than the retention. One
    /// result per booking: true if this call booked it, false if it was booked before.
    public func book(_ bookings: [Booking], worker: String, now: Int64 = WallClock.nowMillis()) -> EventLoopFuture<
        [Bool]
    > {
        var k = [keys.processing(worker)] + keys.bookedAndHours
        var index: [String: Int] = [:]
        func slot(_ key: String) -> String {
            if let i = index[key] { return String(i) }
            k.append(key)
            index[key] = k.count
            return String(k.count)
        }
        var args = [String(retention.millis), String(now - retention.millis)]
        args.reserveCapacity(2 + bookings.count * 5)
        for b in bookings {
            let a = b.attempt
            args += [
                b.payment.payload, a.processor.code, String(a.requestedAt),
                slot(keys.payments(bucket: b.payment.bucket)),
                slot(keys.seconds(a.processor, hour: a.requestedAt.hourOfMillis)),
            ]
        }
        return fcall("book", keys: k, args: args).flatMapThrowing { reply in
            guard case .array(let results) = reply, results.count == bookings.count else {
                if case .error(let message) = reply { throw ValkeyError.server(message) }
                throw ValkeyError.unexpectedReply("\(reply)")
            }
            return results.map { $0.integer == 1 }
        }
    }

    /// Books one payment (see `book(_:worker:now:)`).
    @discardableResult
    public func book(_ payment: QueuedPayment, attempt: PaymentRecord.Attempt, worker: String) async throws -> Bool {
        try await book([Booking(payment: payment, attempt: attempt)], worker: worker).get()[0]
    }

    /// Takes a payload off the worker's list without booking (it was booked by someone else).
    public func drop(_ payment: QueuedPayment, worker: String) async throws {
        _ = try await fcallChecked("drop", keys: [keys.processing(worker)], args: [payment.payload])
    }

    /// Hands every payload of the worker's list back to the queue (graceful stop, or start-up).
    @discardableResult
    public func release(worker: String) async throws -> Int {
        Int(try await fcallChecked("release", keys: [keys.processing(worker), keys.queue], args: []).integer ?? 0)
    }

    /// Hands back these payloads if they are still on the worker's list.
    @discardableResult
    public func requeue(_ payloads: [String], worker: String) async throws -> Int {
        guard !payloads.isEmpty else { return 0 }
        return Int(
            try await fcallChecked("requeue", keys: [keys.processing(worker), keys.queue], args: payloads)
                .integer ?? 0)
    }

    /// Every payload on the worker's processing list.
    public func processing(worker: String) async throws -> [String] {
        (try await client.call("LRANGE", keys.processing(worker), "0", "-1").array ?? []).compactMap(\.string)
    }

    /// Marks the worker alive for `ttlMillis`.
    public func heartbeat(worker: String, ttlMillis: Int) async throws {
        _ = try await fcallChecked(
            "heartbeat", keys: [keys.workers, keys.heartbeat(worker)], args: [worker, String(ttlMillis)])
    }

    /// Removes the worker's liveness (graceful stop).
    public func retire(worker: String) async throws {
        _ = try await fcallChecked("retire", keys: [keys.workers, keys.heartbeat(worker)], args: [worker])
    }

    /// Returns the payloads of workers whose heartbeat expired to the queue. Two calls: the
    /// workers' set is read first, so that every key the function touches is passed to it.
    @discardableResult
    public func reapDeadWorkers() async throws -> Int {
        let workers = (try await client.call("SMEMBERS", keys.workers).array ?? []).compactMap(\.string)
        guard !workers.isEmpty else { return 0 }
        let perWorker = workers.flatMap { [keys.heartbeat($0), keys.processing($0)] }
        return Int(
            try await fcallChecked("reap", keys: [keys.workers, keys.queue] + perWorker, args: workers).integer ?? 0)
    }

    /// How many payments wait in the queue.
    public func queueLength() async throws -> Int {
        Int(try await client.call("LLEN", keys.queue).integer ?? 0)
    }

    /// The stored record of a payment, if any.
    public func record(of payment: QueuedPayment) async throws -> PaymentRecord? {
        try await client.call("HGET", keys.payments(bucket: payment.bucket), payment.correlationID).string.flatMap(
            PaymentRecord.init(text:))
    }

    // MARK: Health polling

    /// Takes or renews the polling lease. True while `owner` is the leader.
    public func holdLease(owner: String, ttlMillis: Int) async throws -> Bool {
        try await fcallChecked("hold_lease", keys: [keys.leader], args: [owner, String(ttlMillis)]).integer == 1
    }

    public func dropLease(owner: String) async throws {
        _ = try await fcallChecked("drop_lease", keys: [keys.leader], args: [owner])
    }

    /// Stack-wide gate: true at most once per `intervalMillis` per processor, whoever asks.
    public func mayPollHealth(_ p: Processor, intervalMillis: Int) async throws -> Bool {
        try await fcallChecked("may_poll", keys: [keys.healthPoll(p)], args: [String(intervalMillis)]).integer == 1
    }

    public func publishHealth(_ p: Processor, _ health: ProcessorHealth) async throws {
        _ = try await fcallChecked("publish_health", keys: [keys.health(p)], args: [health.text, "60000"])
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

/// Loads the lifecycle library once however many calls found it missing at the same time (a
/// burst pipelined to a new server would otherwise send the library's text once per call).
final class LibraryLoader: Sendable {
    private let inFlight = NIOLockedValueBox<EventLoopFuture<RESPValue>?>(nil)

    func load(on client: ValkeyClient) -> EventLoopFuture<RESPValue> {
        inFlight.withLockedValue { current in
            if let current { return current }
            let future = client.send(RESPCommand(["FUNCTION", "LOAD", "REPLACE", PaymentLifecycle.library]))
            current = future
            future.whenComplete { _ in self.inFlight.withLockedValue { $0 = nil } }
            return future
        }
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
