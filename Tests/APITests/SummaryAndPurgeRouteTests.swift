import PaymentCore
import TestSupport
import Testing

@Suite("API: GET /payments-summary and POST /purge-payments over a real socket against a real Valkey")
struct SummaryAndPurgeRouteTests {
    /// Books, through the API and a worker's claim and book, payments around `t`: two on
    /// default at `t`, one on default at `t - 1`, one on fallback at `t + 1`, one on fallback a
    /// minute later.
    static func bookAround(_ h: APIHarness, t: Int64) async throws {
        for (amount, processor, at) in [
            ("10.00", Processor.default, t), ("5.50", .default, t), ("2.00", .default, t - 1),
            ("1.01", .fallback, t + 1), ("7.77", .fallback, t + 60_000),
        ] {
            #expect(try await h.pay(newID(), amount).status == 202)
            #expect(try await h.claimAndBook(processor, at: at).count == 1)
        }
    }

    @Test("windows are inclusive to the millisecond, in every spelling of a timestamp the API reads")
    func windows() async throws {
        try await APIHarness.run { h in
            // Ten minutes ago, well inside the retention (summaries are exact there).
            let t = WallClock.nowMillis() - 600_000
            try await Self.bookAround(h, t: t)
            let all = summaryJSON(default: (3, "17.50"), fallback: (2, "8.78"))
            let atT = summaryJSON(default: (2, "15.50"), fallback: (0, "0.00"))
            let plus = iso(t, offsetHours: 1)
            let cases: [(String?, String)] = [
                (nil, all),
                ("", all),
                ("from=&to=", all),
                ("from=\(iso(t))&to=\(iso(t))", atT),
                ("to=\(iso(t - 1))", summaryJSON(default: (1, "2.00"), fallback: (0, "0.00"))),
                ("from=\(iso(t + 1))", summaryJSON(default: (0, "0.00"), fallback: (2, "8.78"))),
                ("from=\(iso(t))", summaryJSON(default: (2, "15.50"), fallback: (2, "8.78"))),
                ("from=\(iso(t))&to=\(iso(t + 1))", summaryJSON(default: (2, "15.50"), fallback: (1, "1.01"))),
                ("from=\(iso(t).replacing(":", with: "%3A"))&to=\(iso(t).replacing(":", with: "%3A"))", atT),
                ("from=\(iso(t))&to=\(iso(t, micros: "999"))", atT),
                ("from=\(plus)&to=\(plus)", atT),
                ("from=\(plus.replacing("+", with: "%2B"))&to=\(plus.replacing("+", with: "%2B"))", atT),
                ("to=\(iso(t))&from=\(iso(t))&other=1", atT),
            ]
            for (query, expected) in cases {
                let answer = try await h.summary(query)
                #expect(answer.status == 200, "\(query ?? "(none)")")
                #expect(answer.header("content-type") == "application/json")
                #expect(answer.bodyText == expected, "\(query ?? "(none)")")
            }
        }
    }

    @Test(
        "a window the API cannot read gets 400 with a JSON error",
        arguments: [
            "from=yesterday", "to=2025-13-01T00:00:00Z", "from=2025-07-10T12:34:56.000", "from=%zz",
            "to=2025-07-10",
        ])
    func badWindow(query: String) async throws {
        try await APIHarness.run { h in
            let answer = try await h.summary(query)
            #expect(answer.status == 400)
            #expect(answer.bodyText.hasPrefix(#"{"error":""#) && answer.bodyText.hasSuffix(#""}"#))
        }
    }

    @Test("purge clears what is booked and what is queued, and answers 200 with a JSON message")
    func purge() async throws {
        try await APIHarness.run { h in
            try await Self.bookAround(h, t: WallClock.nowMillis() - 1_000)
            #expect(try await h.pay(newID(), "3.00").status == 202)
            #expect(try await h.store.queueLength() == 1)
            let answer = try await h.request("POST", "/purge-payments")
            #expect(answer.status == 200)
            #expect(answer.bodyText == #"{"message":"All payments purged."}"#)
            #expect(try await h.store.queueLength() == 0)
            #expect(try await h.summary().bodyText == summaryJSON(default: (0, "0.00"), fallback: (0, "0.00")))
            // Payments are taken again afterwards.
            #expect(try await h.pay(newID(), "4.00").status == 202)
            #expect(try await h.store.queueLength() == 1)
        }
    }
}
