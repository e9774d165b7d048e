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
