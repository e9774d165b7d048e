import PaymentCore
import PaymentStore
import TestSupport
import Testing
import ValkeyClient

/// A booked payment as the test knows it, to compute the expected summary by brute force.
struct Booked {
    var processor: Processor
    var requestedAt: Int64
    var cents: Int64
}

func bruteForce(_ booked: [Booked], _ window: TimeWindow) -> PaymentsSummary {
    var summary = PaymentsSummary()
    for b in booked where window.contains(b.requestedAt) {
        if b.processor == .default {
            summary.default.totalRequests += 1
            summary.default.totalAmount += Money(cents: b.cents)
        } else {
            summary.fallback.totalRequests += 1
            summary.fallback.totalAmount += Money(cents: b.cents)
        }
    }
    return summary
}

/// Accepts and books every payment (without claiming it from the queue), concurrently.
func bookAll(_ store: PaymentStore, _ booked: [Booked]) async throws {
    try await withThrowingTaskGroup(of: Bool.self) { group in
        for b in booked {
            group.addTask {
                let payment = store.queued(newID(), b.cents)
                _ = try await store.accept(PaymentRequest(correlationID: payment.correlationID, amount: payment.amount))
                    .get()
                return try await store.book(
                    payment, attempt: attempt(b.cents, b.processor, at: b.requestedAt), worker: "w")
            }
        }
        for try await added in group { #expect(added) }
    }
}

@Suite("PaymentStore: summary windows")
struct PaymentStoreSummaryTests {
    /// A whole second: 2025-07-10T12:34:56.000Z.
    static let s: Int64 = 1_752_150_896_000

    static let booked: [Booked] = [
        Booked(processor: .default, requestedAt: s - 1, cents: 1),
        Booked(processor: .default, requestedAt: s, cents: 10),
        Booked(processor: .default, requestedAt: s + 1, cents: 100),
        Booked(processor: .fallback, requestedAt: s + 500, cents: 1_000),
        Booked(processor: .default, requestedAt: s + 999, cents: 10_000),
        Booked(processor: .default, requestedAt: s + 1_000, cents: 100_000),
        Booked(processor: .fallback, requestedAt: s + 1_000, cents: 1_000_000),
        Booked(processor: .default, requestedAt: s + 1_999, cents: 10_000_000),
        Booked(processor: .default, requestedAt: s + 2_000, cents: 100_000_000),
        Booked(processor: .fallback, requestedAt: s + 5_432, cents: 1_000_000_000),
    ]

    static let windows: [TimeWindow] = [
        TimeWindow(),
        TimeWindow(from: s, to: s),  // one ms, on a whole second
        TimeWindow(from: s + 999, to: s + 999),  // one ms, last of a second
        TimeWindow(from: s + 500, to: s + 500),  // one ms inside a second
        TimeWindow(from: s, to: s + 999),  // exactly one whole second
        TimeWindow(from: s, to: s + 1_000),  // one second and one ms
        TimeWindow(from: s - 1, to: s + 999),
        TimeWindow(from: s + 1, to: s + 998),  // inside one second
        TimeWindow(from: s + 999, to: s + 1_000),  // across a second boundary, 2 ms
        TimeWindow(from: s + 1, to: s + 1_999),
        TimeWindow(from: s, to: s + 1_999),  // two whole seconds
        TimeWindow(from: s + 1, to: s + 2_000),
        TimeWindow(from: s - 1_000, to: s + 10_000),  // many seconds
        TimeWindow(from: s + 1),  // unbounded above
        TimeWindow(from: s + 1_000),
        TimeWindow(to: s + 999),  // unbounded below
        TimeWindow(to: s - 1),
        TimeWindow(to: s - 2),
        TimeWindow(from: s + 10_000),  // after everything
        TimeWindow(from: s + 600, to: s + 400),  // empty: from after to
        TimeWindow(from: s + 2_000, to: s + 1_000),
    ]

    @Test(
        "each window counts exactly the payments booked inside it, both ends included",
        arguments: windows)
    func eachWindow(window: TimeWindow) async throws {
        try await withStore { (store) async throws in
            try await bookAll(store, Self.booked)
            #expect(try await store.summary(window).get() == bruteForce(Self.booked, window))
        }
    }

    @Test("summary matches a brute-force sum over 500 random payments and 200 random windows")
    func property() async throws {
        var rng = SeededGenerator(seed: 0x5355_4D4D)
        let base = Self.s - 20_000
        func randomMillis() -> Int64 {
            // Biased towards second boundaries, where the per-second totals and the exact
            // edges meet.
            let ms = Int64.random(in: 0..<40_000, using: &rng)
            switch Int.random(in: 0..<10, using: &rng) {
            case 0: return base + ms / 1000 * 1000
            case 1: return base + ms / 1000 * 1000 + 999
            case 2: return base + ms / 1000 * 1000 + 1_000
            default: return base + ms
            }
        }
        let booked = (0..<500).map { _ in
            Booked(
                processor: Bool.random(using: &rng) ? .default : .fallback, requestedAt: randomMillis(),
                cents: Int64.random(in: 1...1_000_000, using: &rng))
        }
        var windows: [TimeWindow] = []
        for _ in 0..<200 {
            var a = randomMillis()
            var b: Int64
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: b = a + Int64.random(in: 0..<1_000, using: &rng)  // shorter than a second
            case 1: b = a + Int64.random(in: 0..<5, using: &rng)
            default: b = randomMillis()
            }
            if b < a, Int.random(in: 0..<5, using: &rng) > 0 { swap(&a, &b) }
            let from: Int64? = Int.random(in: 0..<10, using: &rng) == 0 ? nil : a
            let to: Int64? = Int.random(in: 0..<10, using: &rng) == 0 ? nil : b
            windows.append(TimeWindow(from: from, to: to))
        }
        try await withStore { (store) async throws in
            try await bookAll(store, booked)
            for window in windows {
                #expect(try await store.summary(window).get() == bruteForce(booked, window), "\(window)")
            }
        }
    }

    @Test("payments at the same requestedAt are each counted")
    func sameMillisecond() async throws {
        try await withStore { (store) async throws in
            let booked = (0..<20).map { k in
                Booked(processor: .default, requestedAt: Self.s + 250, cents: 1990 + Int64(k))
            }
            try await bookAll(store, booked)
            for window in [
                TimeWindow(), TimeWindow(from: Self.s + 250, to: Self.s + 250),
                TimeWindow(from: Self.s, to: Self.s + 999),
            ] {
                #expect(try await store.summary(window).get() == bruteForce(booked, window))
            }
        }
    }

    @Test("summary matches a brute-force sum across hours: whole hours, seconds and milliseconds meet")
    func propertyAcrossHours() async throws {
        var rng = SeededGenerator(seed: 0x484F_5552)
        let hour: Int64 = 3_600_000
        let base = Self.s / hour * hour - hour  // a whole hour, an hour before `s`'s hour
        func randomMillis() -> Int64 {
            // Biased towards hour and second boundaries, where the three sources meet.
            let h = Int64.random(in: 0..<4, using: &rng) * hour
            switch Int.random(in: 0..<8, using: &rng) {
            case 0: return base + h
            case 1: return base + h - 1
            case 2: return base + h + 1_000
            case 3: return base + h - 1_000 + Int64.random(in: 0..<3, using: &rng)
            case 4: return base + h + Int64.random(in: 0..<3_000, using: &rng)
            default: return base + Int64.random(in: 0..<(4 * hour), using: &rng)
            }
        }
        let booked = (0..<400).map { _ in
            Booked(
                processor: Bool.random(using: &rng) ? .default : .fallback, requestedAt: randomMillis(),
                cents: Int64.random(in: 1...1_000_000, using: &rng))
        }
        var windows: [TimeWindow] = []
        for _ in 0..<150 {
            var a = randomMillis()
            var b =
                Int.random(in: 0..<3, using: &rng) == 0 ? a + Int64.random(in: 0..<2_000, using: &rng) : randomMillis()
            if b < a { swap(&a, &b) }
            let from: Int64? = Int.random(in: 0..<8, using: &rng) == 0 ? nil : a
            let to: Int64? = Int.random(in: 0..<8, using: &rng) == 0 ? nil : b
            windows.append(TimeWindow(from: from, to: to))
        }
        try await withStore { (store) async throws in
            try await bookAll(store, booked)
            for window in windows {
                #expect(try await store.summary(window).get() == bruteForce(booked, window), "\(window)")
            }
        }
    }
}
