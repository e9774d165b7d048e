import PaymentCore
import PaymentStore
import TestSupport
import Testing
import ValkeyClient

extension PaymentStore {
    func accept(_ id: String, _ cents: Int64) async throws -> AcceptOutcome {
        try await accept(PaymentRequest(correlationID: id, amount: Money(cents: cents))).get()
    }

    /// The queue payload an `accept` made now gives this payment (no claim needed).
    func queued(_ id: String, _ cents: Int64) -> QueuedPayment {
        QueuedPayment(
            correlationID: id, amount: Money(cents: cents), bucket: retention.bucket(at: WallClock.nowMillis()))
    }

    /// Claims for `default` at the current time (most tests only care which payments move).
    func claim(worker: String, limit: Int) async throws -> [QueuedPayment] {
        try await claim(worker: worker, limit: limit, processor: .default, requestedAt: WallClock.nowMillis())
            .map(\.payment)
    }

    func record(id: String) async throws -> PaymentRecord? {
        try await record(of: queued(id, 0))
    }

    func compareAndSet(id: String, expected: PaymentRecord, new: PaymentRecord) async throws -> PaymentRecord? {
        try await compareAndSet(queued(id, 0), expected: expected, new: new)
    }
}

func attempt(_ cents: Int64, _ p: Processor, at ms: Int64, pinned: Bool = false)
    -> PaymentRecord.Attempt
{
    PaymentRecord.Attempt(amount: Money(cents: cents), processor: p, requestedAt: ms, pinned: pinned)
}

@Suite("PaymentStore: accepting and claiming")
struct PaymentStoreQueueTests {
    @Test("accept queues a new payment and records it as queued")
    func acceptQueues() async throws {
        try await withStore { (store) async throws in
            let id = newID()
            #expect(try await store.accept(id, 1990) == .queued)
            #expect(try await store.queueLength() == 1)
            #expect(try await store.record(id: id) == .queued(amount: Money(cents: 1990)))
        }
    }

    @Test("the same id with the same amount is a repeat: nothing more is queued")
    func repeatIsHarmless() async throws {
        try await withStore { (store) async throws in
            let id = newID()
            #expect(try await store.accept(id, 1990) == .queued)
            #expect(try await store.accept(id, 1990) == .repeated)
            #expect(try await store.accept(id, 1990) == .repeated)
            #expect(try await store.queueLength() == 1)
        }
    }

    @Test("the same id with another amount is a conflict and changes nothing")
    func conflict() async throws {
        try await withStore { (store) async throws in
            let id = newID()
            #expect(try await store.accept(id, 1990) == .queued)
            #expect(try await store.accept(id, 2005) == .conflict)
            #expect(try await store.accept(id, 199) == .conflict)
            #expect(try await store.accept(id, 19900) == .conflict)
            #expect(try await store.queueLength() == 1)
            #expect(try await store.record(id: id) == .queued(amount: Money(cents: 1990)))
        }
    }

    @Test("a repeat is recognised in every later state: attempted and booked")
    func repeatLater() async throws {
        try await withStore { (store) async throws in
            let id = newID()
            _ = try await store.accept(id, 2005)
            let a = attempt(2005, .default, at: 1_752_150_896_000)
            let claimed = try await store.claim(worker: "w", limit: 10, processor: .default, requestedAt: a.requestedAt)
            #expect(claimed.map(\.record) == [.attempt(a)])
            #expect(try await store.accept(id, 2005) == .repeated)
            #expect(try await store.accept(id, 2006) == .conflict)
            try await store.book(claimed[0].payment, attempt: a, worker: "w")
            #expect(try await store.accept(id, 2005) == .repeated)
            #expect(try await store.accept(id, 1) == .conflict)
            #expect(try await store.queueLength() == 0)
        }
    }

    @Test("claim moves payloads oldest first from the queue to the worker's processing list")
    func claimMoves() async throws {
        try await withStore { (store) async throws in
            let ids = (0..<5).map { _ in newID() }
            for (k, id) in ids.enumerated() { _ = try await store.accept(id, Int64(100 + k)) }
            let first = try await store.claim(worker: "w1", limit: 2)
            #expect(first.map(\.correlationID) == Array(ids[0..<2]))
            #expect(first.map(\.amount) == [Money(cents: 100), Money(cents: 101)])
            #expect(try await store.queueLength() == 3)
            #expect(Set(try await store.processing(worker: "w1")) == Set(first.map(\.payload)))
            let rest = try await store.claim(worker: "w2", limit: 10)
            #expect(rest.map(\.correlationID) == Array(ids[2...]))
            #expect(try await store.claim(worker: "w1", limit: 10).isEmpty)
            #expect(try await store.processing(worker: "w1").count == 2)
            #expect(try await store.processing(worker: "w2").count == 3)
        }
    }

    @Test("claim takes a large batch at once")
    func claimLargeBatch() async throws {
        try await withStore { (store) async throws in
            let n = 10_000
            // Pipelined a thousand at a time, as a busy API would (all at once would pass the
            // client's write watermark, which it takes for a stalled Valkey).
            for _ in 0..<(n / 1000) {
                let futures = (0..<1000).map { _ in
                    store.accept(PaymentRequest(correlationID: newID(), amount: Money(cents: 1990)))
                }
                for f in futures { _ = try await f.get() }
            }
            let claimed = try await store.claim(worker: "w", limit: n)
            #expect(claimed.count == n)
            #expect(try await store.queueLength() == 0)
        }
    }

    @Test("awaitPayload waits for a payload, and gives nil after its timeout; claim adopts it")
    func awaitPayload() async throws {
        try await withValkey { (server, client) async throws in
            let store = PaymentStore(client: client, keys: StoreKeys(prefix: "cb"))
            let blocking = makeClient(server)
            #expect(
                try await PaymentStore.awaitPayload(
                    client: blocking, keys: store.keys, worker: "w", timeoutSeconds: 0.05) == nil)
            async let moved = PaymentStore.awaitPayload(
                client: blocking, keys: store.keys, worker: "w", timeoutSeconds: 5)
            try await waitForBlocked(server, "blmove")
            let id = newID()
            _ = try await store.accept(id, 1990)
            let payload = try await moved
            #expect(payload == store.queued(id, 1990).payload)
            #expect(try await store.processing(worker: "w") == [store.queued(id, 1990).payload])
            // Adopted by the next claim: begun once, listed once.
            let a = attempt(1990, .fallback, at: 1_752_150_896_000)
            let claimed = try await store.claim(
                worker: "w", limit: 5, processor: .fallback, requestedAt: a.requestedAt, adopting: payload)
            #expect(claimed == [.init(payment: store.queued(id, 1990), record: .attempt(a))])
            #expect(try await store.processing(worker: "w") == [store.queued(id, 1990).payload])
            await blocking.close()
        }
    }

    @Test("release hands every claimed payload back, to be claimed again first and in the same order")
    func release() async throws {
        try await withStore { (store) async throws in
            let ids = (0..<4).map { _ in newID() }
            for id in ids { _ = try await store.accept(id, 1990) }
            _ = try await store.claim(worker: "w", limit: 3)
            #expect(try await store.release(worker: "w") == 3)
            #expect(try await store.processing(worker: "w").isEmpty)
            #expect(try await store.queueLength() == 4)
            #expect(try await store.claim(worker: "w", limit: 4).map(\.correlationID) == ids)
            #expect(try await store.release(worker: "nobody") == 0)
        }
    }

    @Test("requeue hands back only the listed payloads that the worker still holds")
    func requeue() async throws {
        try await withStore { (store) async throws in
            let ids = (0..<3).map { _ in newID() }
            for id in ids { _ = try await store.accept(id, 1990) }
            let claimed = try await store.claim(worker: "w", limit: 3)
            #expect(
                try await store.requeue([claimed[0].payload, store.queued(newID(), 1990).payload], worker: "w") == 1)
            #expect(
                Set(try await store.processing(worker: "w"))
                    == Set([claimed[1].payload, claimed[2].payload]))
            #expect(try await store.queueLength() == 1)
            #expect(try await store.requeue([claimed[0].payload], worker: "w") == 0)
            #expect(try await store.requeue([], worker: "w") == 0)
            #expect(try await store.requeue([claimed[1].payload], worker: "other") == 0)
            #expect(try await store.claim(worker: "w", limit: 5).map(\.correlationID) == [ids[0]])
        }
    }

    @Test("drop takes a payload off the worker's list without booking it")
    func drop() async throws {
        try await withStore { (store) async throws in
            _ = try await store.accept(newID(), 1990)
            let claimed = try await store.claim(worker: "w", limit: 1)
            try await store.drop(claimed[0], worker: "w")
            #expect(try await store.processing(worker: "w").isEmpty)
            #expect(try await store.queueLength() == 0)
            #expect(try await store.summary(TimeWindow()).get() == PaymentsSummary())
        }
    }

    @Test("reapDeadWorkers returns a dead worker's payloads and leaves a live one's alone")
    func reap() async throws {
        try await withStore { (store) async throws in
            for _ in 0..<3 { _ = try await store.accept(newID(), 1990) }
            try await store.heartbeat(worker: "dead", ttlMillis: 30)
            try await store.heartbeat(worker: "live", ttlMillis: 60_000)
            let deadHeld = try await store.claim(worker: "dead", limit: 2)
            let liveHeld = try await store.claim(worker: "live", limit: 1)
            try await eventually {
                try await store.client.call("EXISTS", store.keys.heartbeat("dead")) == .integer(0)
            }
            #expect(try await store.reapDeadWorkers() == 2)
            #expect(try await store.processing(worker: "dead").isEmpty)
            #expect(try await store.processing(worker: "live") == liveHeld.map(\.payload))
            #expect(try await store.queueLength() == 2)
            #expect(try await store.reapDeadWorkers() == 0)
            #expect(Set(try await store.claim(worker: "live", limit: 5)) == Set(deadHeld))
        }
    }

    @Test("a retired worker is no longer reaped")
    func retire() async throws {
        try await withStore { (store) async throws in
            try await store.heartbeat(worker: "w", ttlMillis: 60_000)
            #expect(try await store.client.call("SISMEMBER", store.keys.workers, "w") == .integer(1))
            try await store.retire(worker: "w")
            #expect(try await store.client.call("SISMEMBER", store.keys.workers, "w") == .integer(0))
            #expect(try await store.client.call("EXISTS", store.keys.heartbeat("w")) == .integer(0))
            #expect(try await store.reapDeadWorkers() == 0)
        }
    }
}

@Suite("PaymentStore: attempts and booking")
struct PaymentStoreAttemptTests {
    static let t0: Int64 = 1_752_150_896_123

    @Test("begin on a queued payment stores and returns the proposed attempt")
    func beginProposes() async throws {
        try await withStore { (store) async throws in
            let id = newID()
            _ = try await store.accept(id, 1990)
            let payment = store.queued(id, 1990)
            let proposed = attempt(1990, .fallback, at: Self.t0)
            #expect(try await store.begin(payment, proposed: proposed) == .attempt(proposed))
            #expect(try await store.record(id: id) == .attempt(proposed))
        }
    }

    @Test("a second begin returns the existing attempt, now pinned, whatever it proposes")
    func secondBeginPins() async throws {
        try await withStore { (store) async throws in
            let id = newID()
            _ = try await store.accept(id, 1990)
            let payment = store.queued(id, 1990)
            let first = attempt(1990, .default, at: Self.t0)
            _ = try await store.begin(payment, proposed: first)
            let pinned = attempt(1990, .default, at: Self.t0, pinned: true)
            #expect(
                try await store.begin(payment, proposed: attempt(1990, .fallback, at: Self.t0 + 5))
                    == .attempt(pinned))
            #expect(try await store.record(id: id) == .attempt(pinned))
            #expect(
                try await store.begin(payment, proposed: attempt(1990, .fallback, at: Self.t0 + 9))
                    == .attempt(pinned))
        }
    }

    @Test("begin on a booked payment returns the booking unchanged")
    func beginBooked() async throws {
        try await withStore { (store) async throws in
            let id = newID()
            _ = try await store.accept(id, 1990)
            let payment = store.queued(id, 1990)
            let a = attempt(1990, .default, at: Self.t0)
            _ = try await store.begin(payment, proposed: a)
            try await store.book(payment, attempt: a, worker: "w")
            let booked = PaymentRecord.booked(
                amount: Money(cents: 1990), processor: .default, requestedAt: Self.t0)
            #expect(
                try await store.begin(payment, proposed: attempt(1990, .fallback, at: Self.t0 + 1))
                    == booked)
            #expect(try await store.record(id: id) == booked)
        }
    }

    @Test("begin on a payment with no record (purged since it was queued) says so and stores nothing")
    func beginUnknown() async throws {
        try await withStore { (store) async throws in
            let payment = store.queued(newID(), 5)
            let proposed = attempt(5, .default, at: Self.t0)
            #expect(try await store.begin(payment, proposed: proposed) == nil)
            #expect(try await store.record(id: payment.correlationID) == nil)
        }
    }

    @Test("a payment out at a processor when a purge comes is still booked, and a re-send of it is a repeat")
    func bookAfterPurge() async throws {
        try await withStore { (store) async throws in
            let id = newID()
            _ = try await store.accept(id, 5)
            let claimed = try await store.claim(worker: "w", limit: 1, processor: .default, requestedAt: Self.t0)
            let a = attempt(5, .default, at: Self.t0)
            #expect(claimed.map(\.record) == [.attempt(a)])
            #expect(try await store.purge().get() == 1)
            // The processor may have it: the same payment sent again must not go anywhere else.
            #expect(try await store.accept(id, 5) == .repeated)
            #expect(try await store.queueLength() == 0)
            #expect(try await store.processing(worker: "w") == [claimed[0].payment.payload])
            #expect(try await store.book(claimed[0].payment, attempt: a, worker: "w") == true)
            #expect(try await store.processing(worker: "w").isEmpty)
            #expect(
                try await store.summary(TimeWindow()).get()
                    == PaymentsSummary(default: ProcessorTotals(totalRequests: 1, totalAmount: Money(cents: 5))))
        }
    }

    @Test("a payload whose record a purge cleared is dropped by the claim that meets it")
    func claimDropsPurged() async throws {
        try await withValkey { (server, client) async throws in
            let store = PaymentStore(client: client, keys: StoreKeys(prefix: "cp"))
            let blocking = makeClient(server)
            _ = try await store.accept(newID(), 5)
            // Moved by BLMOVE, still queued in its record, then purged.
            let payload = try await PaymentStore.awaitPayload(
                client: blocking, keys: store.keys, worker: "w", timeoutSeconds: 1)
            #expect(payload != nil)
            #expect(try await store.purge().get() == 0)
            #expect(
                try await store.claim(
                    worker: "w", limit: 5, processor: .default, requestedAt: Self.t0, adopting: payload
                ).isEmpty)
            #expect(try await store.processing(worker: "w").isEmpty)
            await blocking.close()
        }
    }

    @Test("claim starts queued payments' attempts, pins attempts a dead worker left, and skips booked ones")
    func claimBegins() async throws {
        try await withStore { (store) async throws in
            let ids = (0..<3).map { _ in newID() }
            for id in ids { _ = try await store.accept(id, 1990) }
            let first = try await store.claim(worker: "dead", limit: 3, processor: .default, requestedAt: Self.t0)
            #expect(first.map(\.record) == Array(repeating: .attempt(attempt(1990, .default, at: Self.t0)), count: 3))
            // The first was booked, the other two were out when their worker died.
            try await store.book(first[0].payment, attempt: attempt(1990, .default, at: Self.t0), worker: "dead")
            #expect(try await store.release(worker: "dead") == 2)
            _ = try await store.client.call("RPUSH", store.keys.queue, first[0].payment.payload)
            let again = try await store.claim(worker: "w", limit: 5, processor: .fallback, requestedAt: Self.t0 + 9)
            #expect(again.map(\.payment) == [first[1].payment, first[2].payment])
            #expect(
                again.map(\.record)
                    == Array(repeating: .attempt(attempt(1990, .default, at: Self.t0, pinned: true)), count: 2))
            #expect(Set(try await store.processing(worker: "w")) == Set(again.map(\.payment.payload)))
            #expect(try await store.queueLength() == 0)
        }
    }

    @Test("book takes a batch in one call, across processors, seconds and hours")
    func bookBatch() async throws {
        try await withStore { (store) async throws in
            let hour: Int64 = 3_600_000
            var bookings: [PaymentStore.Booking] = []
            for k in 0..<6 {
                let cents = Int64(100 + k)
                let p: Processor = k % 2 == 0 ? .default : .fallback
                let at: Int64 = Self.t0 + Int64(k) * hour / 2
                bookings.append(.init(payment: store.queued(newID(), cents), attempt: attempt(cents, p, at: at)))
            }
            for b in bookings { _ = try await store.accept(b.payment.correlationID, b.payment.amount.cents) }
            #expect(try await store.book(bookings, worker: "w").get() == Array(repeating: true, count: 6))
            #expect(try await store.book(bookings, worker: "w").get() == Array(repeating: false, count: 6))
            #expect(
                try await store.summary(TimeWindow()).get()
                    == PaymentsSummary(
                        default: ProcessorTotals(totalRequests: 3, totalAmount: Money(cents: 100 + 102 + 104)),
                        fallback: ProcessorTotals(totalRequests: 3, totalAmount: Money(cents: 101 + 103 + 105))))
        }
    }

    @Test("a batch within one second sums its totals exactly, in the second, its edges and its whole hour")
    func bookBatchOneSecond() async throws {
        try await withStore { (store) async throws in
            let second = Self.t0 / 1000 * 1000
            var bookings: [PaymentStore.Booking] = []
            for k in 0..<5 {
                let cents = Int64(1990 + k)
                let at = second + Int64(k) * 200
                bookings.append(.init(payment: store.queued(newID(), cents), attempt: attempt(cents, .default, at: at)))
            }
            for b in bookings { _ = try await store.accept(b.payment.correlationID, b.payment.amount.cents) }
            // The same answer twice in one call (a copy's) is booked once.
            let booked = try await store.book(bookings + [bookings[0]], worker: "w").get()
            #expect(booked == Array(repeating: true, count: 5) + [false])
            func totals(_ count: Int64, _ cents: Int64) -> PaymentsSummary {
                PaymentsSummary(default: ProcessorTotals(totalRequests: count, totalAmount: Money(cents: cents)))
            }
            let all = totals(5, 1990 * 5 + 10)
            let hour = second / 3_600_000 * 3_600_000
            #expect(try await store.summary(TimeWindow()).get() == all)
            #expect(try await store.summary(TimeWindow(from: second, to: second + 999)).get() == all)
            #expect(try await store.summary(TimeWindow(from: hour, to: hour + 3_600_000 - 1)).get() == all)
            #expect(
                try await store.summary(TimeWindow(from: second + 200, to: second + 600)).get()
                    == totals(3, 1991 + 1992 + 1993))
            #expect(try await store.summary(TimeWindow(from: hour - 3_600_000, to: hour + 7_200_000 - 1)).get() == all)
        }
    }

    @Test("a batch with one malformed entry is refused whole and writes nothing")
    func bookRefusedWhole() async throws {
        try await withStore { (store) async throws in
            let id = newID()
            _ = try await store.accept(id, 1990)
            let good = try await store.claim(worker: "w", limit: 1, processor: .default, requestedAt: Self.t0)[0]
            let bad = QueuedPayment(correlationID: "a|b", amount: Money(cents: 5), bucket: good.payment.bucket)
            let a = attempt(1990, .default, at: Self.t0)
            #expect(
                await failure {
                    try await store.book(
                        [
                            .init(payment: good.payment, attempt: a),
                            .init(payment: bad, attempt: attempt(5, .default, at: Self.t0)),
                        ],
                        worker: "w"
                    ).get()
                } != nil)
            #expect(try await store.summary(TimeWindow()).get() == PaymentsSummary())
            #expect(try await store.record(id: id) == .attempt(a))
            #expect(try await store.processing(worker: "w") == [good.payment.payload])
        }
    }

    @Test("compareAndSet replaces the record only when the expected one is stored")
    func compareAndSet() async throws {
        try await withStore { (store) async throws in
            let id = newID()
            _ = try await store.accept(id, 1990)
            let payment = store.queued(id, 1990)
            let mine = PaymentRecord.attempt(attempt(1990, .default, at: Self.t0))
            _ = try await store.begin(payment, proposed: attempt(1990, .default, at: Self.t0))
            let next = PaymentRecord.attempt(attempt(1990, .fallback, at: Self.t0 + 100))
            #expect(try await store.compareAndSet(id: id, expected: mine, new: next) == next)
            #expect(try await store.record(id: id) == next)
            // `mine` is no longer there: nothing changes and the stored record comes back.
            let other = PaymentRecord.attempt(attempt(1990, .default, at: Self.t0 + 200))
            #expect(try await store.compareAndSet(id: id, expected: mine, new: other) == next)
            #expect(try await store.record(id: id) == next)
            // A pinned record does not match its unpinned form.
            _ = try await store.begin(payment, proposed: attempt(1990, .default, at: Self.t0 + 300))
            #expect(
                try await store.compareAndSet(id: id, expected: next, new: other)
                    == .attempt(attempt(1990, .fallback, at: Self.t0 + 100, pinned: true)))
            #expect(try await store.compareAndSet(id: newID(), expected: mine, new: other) == nil)
        }
    }

    @Test(
        "book counts the payment once, takes it off the processing list, and a second book changes nothing"
    )
    func bookIdempotent() async throws {
        try await withStore { (store) async throws in
            let id = newID()
            _ = try await store.accept(id, 2005)
            let payment = try await store.claim(worker: "w", limit: 1, processor: .fallback, requestedAt: Self.t0)[0]
                .payment
            let a = attempt(2005, .fallback, at: Self.t0)
            _ = try await store.begin(payment, proposed: a)
            #expect(try await store.book(payment, attempt: a, worker: "w") == true)
            let once = PaymentsSummary(
                fallback: ProcessorTotals(totalRequests: 1, totalAmount: Money(cents: 2005)))
            #expect(try await store.summary(TimeWindow()).get() == once)
            #expect(try await store.processing(worker: "w").isEmpty)
            #expect(
                try await store.record(id: id)
                    == .booked(amount: Money(cents: 2005), processor: .fallback, requestedAt: Self.t0))
            #expect(try await store.book(payment, attempt: a, worker: "w") == false)
            // Even under another processor or time, a booked payment is not booked again.
            #expect(
                try await store.book(
                    payment, attempt: attempt(2005, .default, at: Self.t0 + 7), worker: "w") == false)
            #expect(try await store.summary(TimeWindow()).get() == once)
            #expect(try await store.summary(TimeWindow(from: Self.t0, to: Self.t0)).get() == once)
            #expect(try await store.queueLength() == 0)
        }
    }

    @Test("a book by another worker takes the payload off that worker's list only")
    func bookOtherWorker() async throws {
        try await withStore { (store) async throws in
            _ = try await store.accept(newID(), 1990)
            let payment = try await store.claim(worker: "a", limit: 1)[0]
            let a = attempt(1990, .default, at: Self.t0)
            #expect(try await store.book(payment, attempt: a, worker: "b") == true)
            #expect(try await store.processing(worker: "a") == [payment.payload])
            #expect(try await store.book(payment, attempt: a, worker: "a") == false)
            #expect(try await store.processing(worker: "a").isEmpty)
        }
    }

    @Test("purge clears queued and booked payments, and a purged id can be accepted again")
    func purge() async throws {
        try await withStore { (store) async throws in
            let ids = (0..<4).map { _ in newID() }
            for id in ids { _ = try await store.accept(id, 1990) }
            try await store.heartbeat(worker: "w", ttlMillis: 60_000)
            let claimed = try await store.claim(worker: "w", limit: 1, processor: .default, requestedAt: Self.t0)
            let a = attempt(1990, .default, at: Self.t0)
            try await store.book(claimed[0].payment, attempt: a, worker: "w")
            #expect(try await store.purge().get() == 0)
            #expect(try await store.queueLength() == 0)
            #expect(try await store.processing(worker: "w").isEmpty)
            #expect(try await store.summary(TimeWindow()).get() == PaymentsSummary())
            #expect(
                try await store.summary(TimeWindow(from: Self.t0 - 5000, to: Self.t0 + 5000)).get()
                    == PaymentsSummary())
            for id in ids { #expect(try await store.record(id: id) == nil) }
            #expect(try await store.accept(ids[0], 2005) == .queued)
            #expect(try await store.queueLength() == 1)
        }
    }

    @Test("accept refuses a payment Valkey only gets to after the caller's deadline, and stores nothing")
    func acceptLate() async throws {
        try await withStore { (store) async throws in
            let id = newID()
            let past = WallClock.nowMillis() - 1
            #expect(
                try await store.accept(PaymentRequest(correlationID: id, amount: Money(cents: 5)), deadlineMillis: past)
                    .get() == .late)
            #expect(try await store.queueLength() == 0)
            #expect(try await store.record(id: id) == nil)
            let later = WallClock.nowMillis() + 60_000
            #expect(
                try await store.accept(
                    PaymentRequest(correlationID: id, amount: Money(cents: 5)), deadlineMillis: later
                )
                .get() == .queued)
        }
    }

    @Test("a record lives at least one retention: a repeat is recognised across a bucket boundary, not later")
    func retentionBuckets() async throws {
        try await withStore(retention: Retention(millis: 60_000)) { (store) async throws in
            let id = newID()
            let t = WallClock.nowMillis()
            let request = PaymentRequest(correlationID: id, amount: Money(cents: 5))
            #expect(try await store.accept(request, now: t).get() == .queued)
            #expect(try await store.accept(request, now: t + 60_000).get() == .repeated)
            let b = store.retention.bucket(at: t)
            let ttl = try await store.client.call("PTTL", store.keys.payments(bucket: b)).integer ?? 0
            #expect(ttl > 60_000 && ttl <= 120_000, "expires two buckets after its own")
            // Two buckets on, the record's hash is no longer consulted (it has expired by then).
            #expect(try await store.accept(request, now: t + 120_000).get() == .queued)
        }
    }

    @Test("beyond the retention, booked payments leave the sorted set and summaries stay exact for whole hours")
    func retentionSummary() async throws {
        try await withStore(retention: Retention(millis: 60_000)) { (store) async throws in
            let hour: Int64 = 3_600_000
            let now = WallClock.nowMillis()
            let old = (now / hour - 3) * hour + 1_234  // three hours ago, inside its hour
            let payment = store.queued(newID(), 700)
            _ = try await store.accept(payment.correlationID, 700)
            #expect(
                try await store.book(
                    [.init(payment: payment, attempt: attempt(700, .fallback, at: old))], worker: "w", now: now
                ).get() == [true])
            #expect(try await store.client.call("ZCARD", store.keys.booked(.fallback)) == .integer(0))
            #expect(
                try await store.client.call("EXISTS", store.keys.seconds(.fallback, hour: old / hour)) == .integer(0))
            let one = PaymentsSummary(fallback: ProcessorTotals(totalRequests: 1, totalAmount: Money(cents: 700)))
            #expect(try await store.summary(TimeWindow()).get() == one)
            #expect(
                try await store.summary(TimeWindow(from: old / hour * hour, to: old / hour * hour + hour - 1)).get()
                    == one)
            #expect(try await store.summary(TimeWindow(from: old / hour * hour - hour, to: now)).get() == one)
            #expect(try await store.summary(TimeWindow(from: old + 1)).get() == PaymentsSummary())
        }
    }

    @Test("past maxmemory a new payment is refused, and what was accepted is still claimed and booked")
    func outOfMemory() async throws {
        try await withStore { (store) async throws in
            let ids = (0..<20).map { _ in newID() }
            for id in ids { _ = try await store.accept(id, 1990) }
            try await store.heartbeat(worker: "w", ttlMillis: 60_000)
            let used = try await store.client.call("INFO", "memory").string ?? ""
            let bytes =
                used.split(whereSeparator: \.isNewline).first { $0.hasPrefix("used_memory:") }.flatMap {
                    Int($0.dropFirst(12))
                } ?? 0
            #expect(bytes > 0)
            _ = try await store.client.call("CONFIG", "SET", "maxmemory", String(bytes / 2))
            do {
                _ = try await store.accept(newID(), 1990)
                Issue.record("accept went through past maxmemory")
            } catch ValkeyError.server(let message) {
                #expect(message.hasPrefix("OOM"))
            }
            let claimed = try await store.claim(worker: "w", limit: 20, processor: .default, requestedAt: Self.t0)
            #expect(claimed.count == 20)
            let booked = try await store.book(
                claimed.map { .init(payment: $0.payment, attempt: attempt(1990, .default, at: Self.t0)) }, worker: "w"
            ).get()
            #expect(booked == Array(repeating: true, count: 20))
            try await store.heartbeat(worker: "w", ttlMillis: 60_000)
            #expect(try await store.holdLease(owner: "w", ttlMillis: 1_000))
            #expect(
                try await store.summary(TimeWindow()).get()
                    == PaymentsSummary(
                        default: ProcessorTotals(totalRequests: 20, totalAmount: Money(cents: 20 * 1990))))
            _ = try await store.client.call("CONFIG", "SET", "maxmemory", "0")
        }
    }
}

@Suite("PaymentStore: health polling")
struct PaymentStoreHealthTests {
    @Test(
        "one lease holder at a time; the holder renews; after expiry another takes it; drop releases")
    func lease() async throws {
        try await withStore { (store) async throws in
            #expect(try await store.holdLease(owner: "a", ttlMillis: 60_000))
            #expect(try await !store.holdLease(owner: "b", ttlMillis: 60_000))
            #expect(try await store.holdLease(owner: "a", ttlMillis: 120_000))
            let ttl = try await store.client.call("PTTL", store.keys.leader).integer ?? 0
            #expect(ttl > 60_000, "renewing extends the lease")
            // Only the owner may drop it.
            try await store.dropLease(owner: "b")
            #expect(try await !store.holdLease(owner: "b", ttlMillis: 60_000))
            try await store.dropLease(owner: "a")
            #expect(try await store.holdLease(owner: "b", ttlMillis: 60_000))
            #expect(try await !store.holdLease(owner: "a", ttlMillis: 60_000))
            // b's lease runs out (as if b died): a takes over, and b is out.
            _ = try await store.client.call("PEXPIRE", store.keys.leader, "20")
            try await eventually { try await store.holdLease(owner: "a", ttlMillis: 60_000) }
            #expect(try await !store.holdLease(owner: "b", ttlMillis: 60_000))
        }
    }

    @Test("a lease given a short TTL expires by itself")
    func leaseExpires() async throws {
        try await withStore { (store) async throws in
            #expect(try await store.holdLease(owner: "a", ttlMillis: 30))
            try await eventually { try await store.holdLease(owner: "b", ttlMillis: 60_000) }
        }
    }

    @Test("mayPollHealth is true once per interval per processor")
    func mayPoll() async throws {
        try await withStore { (store) async throws in
            #expect(try await store.mayPollHealth(.default, intervalMillis: 60_000))
            #expect(try await !store.mayPollHealth(.default, intervalMillis: 60_000))
            #expect(try await store.mayPollHealth(.fallback, intervalMillis: 60_000))
            #expect(try await !store.mayPollHealth(.fallback, intervalMillis: 60_000))
            let ttl = try await store.client.call("PTTL", store.keys.healthPoll(.fallback)).integer ?? 0
            #expect(ttl > 50_000 && ttl <= 60_000)
            // When the interval is over, the next caller may poll again, once.
            _ = try await store.client.call("PEXPIRE", store.keys.healthPoll(.fallback), "20")
            try await eventually { try await store.mayPollHealth(.fallback, intervalMillis: 60_000) }
            #expect(try await !store.mayPollHealth(.fallback, intervalMillis: 60_000))
            #expect(try await !store.mayPollHealth(.default, intervalMillis: 60_000))
        }
    }

    @Test("published health reads back per processor")
    func healthRoundTrip() async throws {
        try await withStore { (store) async throws in
            #expect(try await store.readHealth().isEmpty)
            let d = ProcessorHealth(failing: true, minResponseTime: 1_500, polledAt: 1_752_150_896_000)
            try await store.publishHealth(.default, d)
            #expect(try await store.readHealth() == [.default: d])
            let f = ProcessorHealth(failing: false, minResponseTime: 0, polledAt: 1_752_150_897_000)
            try await store.publishHealth(.fallback, f)
            #expect(try await store.readHealth() == [.default: d, .fallback: f])
            let d2 = ProcessorHealth(failing: false, minResponseTime: 20, polledAt: 1_752_150_898_000)
            try await store.publishHealth(.default, d2)
            #expect(try await store.readHealth() == [.default: d2, .fallback: f])
        }
    }
}

@Suite("PaymentRecord and QueuedPayment texts")
struct PaymentRecordTests {
    @Test(
        "records round-trip through their stored text",
        arguments: [
            PaymentRecord.queued(amount: Money(cents: 1990)),
            .attempt(attempt(2005, .default, at: 1_752_150_896_000)),
            .attempt(attempt(1, .fallback, at: 0, pinned: true)),
            .booked(
                amount: Money(cents: 10_000_000_000_000), processor: .fallback,
                requestedAt: 1_752_150_896_999),
        ])
    func roundTrip(record: PaymentRecord) {
        #expect(PaymentRecord(text: record.text) == record)
    }

    @Test("stored texts have the documented shape")
    func texts() {
        #expect(PaymentRecord.queued(amount: Money(cents: 1990)).text == "Q|1990")
        #expect(
            PaymentRecord.attempt(attempt(1990, .fallback, at: 12, pinned: true)).text == "A|1990|f|12|1")
        #expect(
            PaymentRecord.booked(amount: Money(cents: 5), processor: .default, requestedAt: 7).text
                == "B|5|d|7")
    }

    @Test(
        "malformed texts are refused",
        arguments: ["", "Q", "Q|", "Q|x", "Q|1|2", "A|1|d|5", "A|1|x|5|0", "B|1|d", "B|1|d|x", "X|1"])
    func malformed(text: String) {
        #expect(PaymentRecord(text: text) == nil)
    }

    @Test("a queued payment's payload is id|cents|bucket")
    func payload() {
        let p = QueuedPayment(
            correlationID: "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3", amount: Money(cents: 1990), bucket: 20_279)
        #expect(p.payload == "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3|1990|20279")
        #expect(QueuedPayment(payload: p.payload) == p)
        #expect(QueuedPayment(payload: "no-bar") == nil)
        #expect(QueuedPayment(payload: "id|x|1") == nil)
        #expect(QueuedPayment(payload: "id|1") == nil)
        #expect(QueuedPayment(payload: "|1|1") == nil)
    }

    @Test("health text round-trips")
    func healthText() {
        let h = ProcessorHealth(failing: true, minResponseTime: 100, polledAt: 1_752_150_896_000)
        #expect(h.text == "1|100|1752150896000")
        #expect(ProcessorHealth(text: h.text) == h)
        #expect(ProcessorHealth(text: "0|x|1") == nil)
    }
}
