import PaymentCore
import TestSupport
import Testing
import ValkeyClient

@Suite("API: what clients get while Valkey is down or full")
struct StorageFailureTests {
    @Test("with Valkey down every route answers 503 with a JSON error within the deadline, and recovers")
    func down() async throws {
        try await APIHarness.run { h in
            #expect(try await h.request("GET", "/health").bodyText == #"{"status":"ok"}"#)
            await h.valkey.stop()
            let start = ContinuousClock.now
            let payment = try await h.pay(newID(), "19.90")
            #expect(ContinuousClock.now - start < .seconds(3), "the API's deadline is 1 s")
            #expect(payment.status == 503)
            #expect(payment.bodyText == errorJSON("payment not accepted: storage unavailable, retry"))
            let summary = try await h.summary()
            #expect(summary.status == 503)
            #expect(summary.bodyText == errorJSON("storage unavailable"))
            let purge = try await h.request("POST", "/purge-payments")
            #expect(purge.status == 503)
            #expect(purge.bodyText == errorJSON("storage unavailable"))
            let health = try await h.request("GET", "/health")
            #expect(health.status == 503)
            #expect(health.bodyText == errorJSON("storage unavailable"))

            try await h.valkey.restart()
            let id = newID()
            try await eventually(within: .seconds(10)) { try await h.pay(id, "19.90").status == 202 }
            #expect(try await h.store.queueLength() == 1)
        }
    }

    @Test(
        "with Valkey stalled, each payment gets its 503 at its own deadline and none is queued once Valkey runs again")
    func stalled() async throws {
        try await APIHarness.run { h in
            #expect(try await h.pay(newID(), "1.00").status == 202)
            let callsBefore = try await functionCalls(h.client)
            h.valkey.pause()
            let answers = try await withCleanup {
                // Five payments 150 ms apart, each on its own connection: one timer covers them all.
                try await withThrowingTaskGroup(of: (Duration, RawHTTPResponse).self) { group in
                    for k in 0..<5 {
                        group.addTask {
                            try await Task.sleep(for: .milliseconds(150 * k))
                            let start = ContinuousClock.now
                            let answer = try await h.pay(newID(), "2.00")
                            return (ContinuousClock.now - start, answer)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            } cleanup: {
                h.valkey.resume()
            }
            #expect(answers.count == 5)
            for (took, answer) in answers {
                #expect(answer.status == 503)
                #expect(answer.bodyText == errorJSON("payment not accepted: storage unavailable, retry"))
                // Never before the deadline (1 s); the upper bound only says it came.
                #expect(took >= .milliseconds(990) && took < .seconds(5), "answered after \(took)")
            }
            // Valkey runs the five calls now, past their deadline: nothing is stored. They were
            // in flight through the stall: Valkey ran them, ahead of the next payment's call on
            // the same connection.
            #expect(try await h.pay(newID(), "3.00").status == 202)
            #expect(try await functionCalls(h.client) >= callsBefore + 6)
            #expect(try await h.store.queueLength() == 2)
        }
    }

    @Test(
        "with Valkey at its maxmemory a new payment gets 503 'storage full' and is not queued; summaries still answer")
    func full() async throws {
        try await APIHarness.run { h in
            #expect(try await h.pay(newID(), "1.00").status == 202)
            _ = try await h.client.call(RESPCommand(["CONFIG", "SET", "maxmemory", "1"]))
            let refused = try await h.pay(newID(), "2.00")
            #expect(refused.status == 503)
            #expect(refused.bodyText == errorJSON("payment not accepted: storage full, retry later"))
            #expect(try await h.store.queueLength() == 1)
            let summary = try await h.summary()
            #expect(summary.status == 200)
            #expect(summary.bodyText == summaryJSON(default: (0, "0.00"), fallback: (0, "0.00")))

            _ = try await h.client.call(RESPCommand(["CONFIG", "SET", "maxmemory", "0"]))
            #expect(try await h.pay(newID(), "2.00").status == 202)
            #expect(try await h.store.queueLength() == 2)
        }
    }
}
