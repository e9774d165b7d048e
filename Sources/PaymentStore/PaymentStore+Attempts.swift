import NIOCore
import PaymentCore
import ValkeyClient

/// A worker's side of a payment's attempt: claimed from the queue with its attempt started,
/// rerouted, handed back, booked or dropped (the states are drawn in `PaymentRecord.swift`).
extension PaymentStore {
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
    /// worker's list, in one call; at most once a second per store it also trims booked payments
    /// older than the retention (two commands a call would otherwise cost every booking). One
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
        let cutoff = trimSchedule.isDue(now: now) ? now - retention.millis : 0
        var args = [String(retention.millis), String(cutoff)]
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
}
