import AsyncHTTPClient
import NIOPosix
import ProcessorSimulator
import TestSupport
import Testing

@Suite("POST /payments and GET /payments/{id} over a real socket")
struct PaymentsLiveTests {
    @Test func aPaymentIsStoredAndSummarized() async throws {
        try await SimulatorHarness.run { sim async throws in
            let id = newID()
            let answer = try await sim.pay(id, amount: "19.90", at: "2025-07-15T12:34:56.789Z")
            #expect(answer.status == 200)
            #expect(answer.body == #"{"message":"payment processed successfully"}"#)
            let stored = try await sim.send(.GET, "/payments/\(id)")
            #expect(stored.status == 200)
            #expect(
                stored.body
                    == #"{"correlationId":"\#(id)","amount":19.90,"requestedAt":"2025-07-15T12:34:56.789"}"#)
            let summary = try await sim.summary()
            #expect(
                summary.body
                    == #"{"totalRequests":1,"totalAmount":19.90,"totalFee":0.995,"feePerTransaction":0.05}"#)
        }
    }

    @Test func aDuplicateGets422AndKeepsTheFirstRequestedAt() async throws {
        try await SimulatorHarness.run { sim async throws in
            let id = newID()
            #expect(try await sim.pay(id, amount: "10.00", at: "2025-07-15T12:00:00.000Z").status == 200)
            let again = try await sim.pay(
                id.uppercased(), amount: "99.00", at: "2025-07-15T13:00:00.000Z")
            #expect(again.status == 422)
            let stored = try await sim.send(.GET, "/payments/\(id)")
            #expect(stored.body.contains(#""amount":10.00,"requestedAt":"2025-07-15T12:00:00""#))
            #expect(try await sim.summary().body.hasPrefix(#"{"totalRequests":1,"totalAmount":10.00,"#))
        }
    }

    @Test func unknownOrMalformedIdsAre404AndLookupIgnoresCase() async throws {
        try await SimulatorHarness.run { sim async throws in
            let id = newID()
            #expect(try await sim.send(.GET, "/payments/\(id)").status == 404)
            #expect(try await sim.send(.GET, "/payments/not-a-uuid").status == 404)
            #expect(try await sim.pay(id).status == 200)
            #expect(try await sim.send(.GET, "/payments/\(id.uppercased())").status == 200)
        }
    }

    @Test func failureModeAnswers500WithAnEmptyBodyAndStoresNothing() async throws {
        try await SimulatorHarness.run { sim async throws in
            _ = try await sim.setFailure(true)
            let id = newID()
            let failed = try await sim.pay(id)
            #expect(failed.status == 500)
            #expect(failed.body.isEmpty)
            #expect(try await sim.send(.GET, "/payments/\(id)").status == 404)
            #expect(try await sim.summary().body == emptySummary())
            _ = try await sim.setFailure(false)
            #expect(try await sim.pay(id).status == 200)
        }
    }

    @Test func theDelayIsWaitedBeforeTheFailureCheck() async throws {
        try await SimulatorHarness.run { sim async throws in
            _ = try await sim.setDelay(300)
            _ = try await sim.setFailure(true)
            let clock = ContinuousClock()
            let start = clock.now
            #expect(try await sim.pay(newID()).status == 500)
            #expect((clock.now - start).millis >= 290)
        }
    }

    @Test func theFailureModeIsReadWhenTheDelayEnds() async throws {
        try await SimulatorHarness.run { sim async throws in
            _ = try await sim.setDelay(400)
            let id = newID()
            async let payment = sim.pay(id)
            try await Task.sleep(for: .milliseconds(100))
            _ = try await sim.setFailure(true)  // while the payment is still waiting its delay
            #expect(try await payment.status == 500)
            _ = try await sim.setFailure(false)
            #expect(try await sim.send(.GET, "/payments/\(id)").status == 404)
        }
    }

    @Test func aClientThatDisconnectsDuringTheDelayStillGetsItsPaymentStored() async throws {
        try await SimulatorHarness.run { sim async throws in
            // A delay far longer than the client's timeout: the look-up between them must land
            // inside it even on a busy machine.
            _ = try await sim.setDelay(1_500)
            let id = newID()
            await #expect(throws: HTTPClientError.self) {
                _ = try await sim.send(
                    .POST, "/payments", body: paymentBody(id), timeout: .milliseconds(100))
            }
            #expect(try await sim.send(.GET, "/payments/\(id)").status == 404)  // the delay is not over yet
            var status = 0
            for _ in 0..<100 where status != 200 {
                try await Task.sleep(for: .milliseconds(50))
                status = try await sim.send(.GET, "/payments/\(id)").status
            }
            #expect(status == 200)
            #expect(try await sim.summary().body.hasPrefix(#"{"totalRequests":1,"#))
        }
    }

    @Test(arguments: [
        "",
        "not json",
        "[]",
        #"{"amount":19.90,"requestedAt":"2025-07-15T12:34:56.000Z"}"#,
        #"{"correlationId":"ID","requestedAt":"2025-07-15T12:34:56.000Z"}"#,
        #"{"correlationId":"ID","amount":19.90}"#,
        #"{"correlationId":"nope","amount":19.90,"requestedAt":"2025-07-15T12:34:56.000Z"}"#,
        #"{"correlationId":"ID","amount":"19.90","requestedAt":"2025-07-15T12:34:56.000Z"}"#,
        #"{"correlationId":"ID","amount":-1,"requestedAt":"2025-07-15T12:34:56.000Z"}"#,
        #"{"correlationId":"ID","amount":1e2,"requestedAt":"2025-07-15T12:34:56.000Z"}"#,
        #"{"correlationId":"ID","amount":19.901,"requestedAt":"2025-07-15T12:34:56.000Z"}"#,
        #"{"correlationId":"ID","amount":19.90,"requestedAt":"yesterday"}"#,
        #"{"correlationId":"ID","amount":19.90,"requestedAt":"2025-07-15T12:34:56.000Z""#,
    ])
    func badBodiesGet400(_ template: String) async throws {
        try await SimulatorHarness.run { sim async throws in
            let answer = try await sim.send(
                .POST, "/payments", body: template.replacing("ID", with: newID()))
            #expect(answer.status == 400)
            #expect(answer.body.hasPrefix(#"{"error":"#))
            #expect(try await sim.summary().body == emptySummary())
        }
    }

    @Test func overTheConcurrencyLimitCallsGet429WithRetryAfter() async throws {
        let configuration = SimulatorConfiguration(maxInFlight: 2, maxQueued: 1)
        try await SimulatorHarness.run(configuration) { sim async throws in
            // Delays long enough that "refused at once" and "served after the delay" stay apart
            // on a busy machine.
            _ = try await sim.setDelay(1_000)
            let clock = ContinuousClock()
            let start = clock.now
            let answers = try await withThrowingTaskGroup(of: (Answer, Int64).self) { group in
                for _ in 0..<5 {
                    group.addTask {
                        let answer = try await sim.pay(newID())
                        return (answer, (clock.now - start).millis)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let ok = answers.filter { $0.0.status == 200 }
            let refused = answers.filter { $0.0.status == 429 }
            #expect(ok.count == 3)
            #expect(refused.count == 2)
            #expect(refused.allSatisfy { $0.0.headers.first(name: "Retry-After") == "5" && $0.1 < 800 })
            // The queued call waits for a slot, then its own delay.
            #expect(ok.map(\.1).max() ?? 0 >= 1_980)
            #expect(try await sim.summary().body.hasPrefix(#"{"totalRequests":3,"#))
        }
    }

    @Test func unknownRoutesAre404AndWrongMethods405() async throws {
        try await SimulatorHarness.run { sim async throws in
            #expect(try await sim.send(.GET, "/nothing").status == 404)
            #expect(try await sim.send(.GET, "/payments").status == 405)
            #expect(try await sim.send(.POST, "/payments/service-health").status == 405)
            #expect(try await sim.send(.DELETE, "/payments/\(newID())").status == 405)
            #expect(try await sim.send(.POST, "/admin/payments-summary", token: "123").status == 405)
        }
    }
}

@Suite("Closing the simulator")
struct CloseLiveTests {
    @Test func closingAnswersQueuedPaymentsWith500AndLetsRunningOnesFinish() async throws {
        let simulator = try await ProcessorSimulator.start(
            configuration: SimulatorConfiguration(maxInFlight: 1, maxQueued: 1),
            group: MultiThreadedEventLoopGroup.singleton)
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let sim = SimulatorHarness(simulator: simulator, client: client)
        do {
            // The running payment ends 1.6 s after the close; the queued one is answered at the close.
            _ = try await sim.setDelay(2_000)
            async let first = sim.pay(newID())
            try await Task.sleep(for: .milliseconds(200))
            async let second = sim.pay(newID())
            try await Task.sleep(for: .milliseconds(200))
            let clock = ContinuousClock()
            let start = clock.now
            await simulator.close()
            #expect(try await second.status == 500)
            #expect((clock.now - start).millis < 1_200)
            #expect(try await first.status == 200)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }
}
