import Logging
import NIOConcurrencyHelpers
import NIOCore
import PaymentCore
import PaymentStore
import TestSupport
import Testing
import ValkeyClient

@testable import Worker

/// The booking batcher against a real Valkey: how many `book` calls reach the server.
@Suite("BookingBatcher")
struct BookingBatcherTests {
    /// Two payments accepted and claimed for `default`, ready to be booked.
    private func claimedBookings(_ store: PaymentStore) async throws -> [PaymentStore.Booking] {
        for _ in 0..<2 {
            _ = try await store.accept(PaymentRequest(correlationID: newID(), amount: Money(cents: 1990))).get()
        }
        let claimed = try await store.claim(
            worker: "w", limit: 2, processor: .default, requestedAt: WallClock.nowMillis())
        return claimed.compactMap { c in
            guard case .attempt(let a) = c.record else { return nil }
            return PaymentStore.Booking(payment: c.payment, attempt: a)
        }
    }

    /// A batcher over a store on a Valkey of its own, with two payments claimed and ready to book.
    private func withBatcher(
        maxBatch: Int, linger: TimeAmount,
        _ body: (ValkeyClient, PaymentStore, [PaymentStore.Booking], BookingBatcher) async throws -> Void
    ) async throws {
        try await withValkey { (_, client) async throws in
            let store = PaymentStore(client: client, keys: StoreKeys(prefix: "bb\(UInt32.random(in: 0...UInt32.max))"))
            let bookings = try await claimedBookings(store)
            let batcher = BookingBatcher(
                store: store, worker: "w", eventLoop: client.eventLoop, logger: Logger(label: "test"),
                maxBatch: maxBatch, linger: linger)
            try await body(client, store, bookings, batcher)
        }
    }

    /// Books the first payment, then the second `gap` later, and returns how many function
    /// calls that took and how many payments the summary counts.
    private func book(linger: TimeAmount, second gap: Duration?) async throws -> (calls: Int, booked: Int64) {
        var result: (calls: Int, booked: Int64) = (0, 0)
        try await withBatcher(maxBatch: 16, linger: linger) { client, store, bookings, batcher in
            #expect(bookings.count == 2)
            let before = try await functionCalls(client)
            var futures = [batcher.book(bookings[0])]
            if let gap {
                try await Task.sleep(for: gap)
                futures.append(batcher.book(bookings[1]))
            }
            for f in futures { try await f.get() }
            result.calls = try await functionCalls(client) - before
            result.booked = try await store.summary(TimeWindow()).get().default.totalRequests
        }
        return result
    }

    @Test("answers that arrive within the linger share one booking call")
    func lingerSharesACall() async throws {
        let lingering = try await book(linger: .seconds(2), second: .milliseconds(30))
        #expect(lingering.calls == 1)
        #expect(lingering.booked == 2)
    }

    @Test("without a linger, a lone answer is booked at once")
    func noLinger() async throws {
        let eager = try await book(linger: .zero, second: nil)
        #expect(eager.calls == 1)
        #expect(eager.booked == 1)
    }

    @Test("a full batch goes out at once, without waiting for the linger")
    func fullBatchFlushes() async throws {
        try await withBatcher(maxBatch: 2, linger: .seconds(60)) { _, _, bookings, batcher in
            let done = NIOLockedValueBox(0)
            for b in bookings {
                batcher.book(b).whenSuccess { done.withLockedValue { $0 += 1 } }
            }
            try await eventually(within: .seconds(10)) { done.withLockedValue { $0 } == 2 }
        }
    }

    private func stat(_ client: ValkeyClient, _ name: String) async throws -> Int {
        let info = try await client.call("INFO", "stats").string ?? ""
        let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("\(name):") }
        return line.flatMap { Int($0.split(separator: ":").last ?? "") } ?? -1
    }

    @Test("flushNow sends what waits at once, in the same write as a call made in the same tick")
    func flushNowRidesAlong() async throws {
        try await withBatcher(maxBatch: 16, linger: .seconds(60)) { client, store, bookings, batcher in
            let booked = try await client.eventLoop.submit { batcher.book(bookings[0]) }.get()
            let callsBefore = try await functionCalls(client)
            let readsBefore = try await stat(client, "total_reads_processed")
            // As the claim loop does: flush, then its own call, in one tick.
            let ping = try await client.eventLoop.submit {
                batcher.flushNow()
                return client.send("PING")
            }.get()
            #expect(try await ping.get() == .string("PONG"))
            // One read for the booking and the PING together, one for the INFO that counts.
            let reads = try await stat(client, "total_reads_processed") - readsBefore
            #expect(reads == 2)
            // Replies come in order: the booking, sent first, is done (long before its linger).
            #expect(try await functionCalls(client) - callsBefore == 1)
            try await booked.get()
            #expect(try await store.summary(TimeWindow()).get().default.totalRequests == 1)
        }
    }
}
