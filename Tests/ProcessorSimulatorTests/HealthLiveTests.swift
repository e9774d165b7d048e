import ProcessorSimulator
import Testing

@Suite("GET /payments/service-health over a real socket")
struct HealthLiveTests {
    @Test func healthReportsTheFailureModeAndTheDelay() async throws {
        try await SimulatorHarness.run(SimulatorConfiguration(healthWindowMillis: 300)) {
            sim async throws in
            let first = try await sim.send(.GET, "/payments/service-health")
            #expect(first.status == 200)
            #expect(first.body == #"{"failing":false,"minResponseTime":0}"#)
            _ = try await sim.setDelay(1250)
            _ = try await sim.setFailure(true)
            try await Task.sleep(for: .milliseconds(350))
            #expect(
                try await sim.send(.GET, "/payments/service-health").body
                    == #"{"failing":true,"minResponseTime":1250}"#)
        }
    }

    @Test func oneCallPerWindowTwoHeldUntilTheNextWindowTheRestRefused() async throws {
        // A 2 s window: "at once" (well under it) and "held to the next one" stay apart even when
        // a busy machine delays a call by hundreds of milliseconds.
        try await SimulatorHarness.run(SimulatorConfiguration(healthWindowMillis: 2_000)) {
            sim async throws in
            let clock = ContinuousClock()
            let start = clock.now
            let first = try await sim.send(.GET, "/payments/service-health")
            #expect(first.status == 200)
            #expect((clock.now - start).millis < 1_000)
            async let second = sim.send(.GET, "/payments/service-health")
            async let third = sim.send(.GET, "/payments/service-health")
            try await Task.sleep(for: .milliseconds(100))
            let fourth = try await sim.send(.GET, "/payments/service-health")
            #expect(fourth.status == 429)
            #expect(fourth.headers.first(name: "Retry-After") == "5")
            #expect((clock.now - start).millis < 1_500)  // refused at once, while the others are held
            let held = try await [second, third]
            let heldFor = (clock.now - start).millis
            #expect(held.map(\.status) == [200, 200])
            #expect(held.allSatisfy { $0.body == #"{"failing":false,"minResponseTime":0}"# })
            #expect(heldFor >= 1_980 && heldFor < 6_000)
        }
    }

    @Test func aCallAfterTheWindowIsAnsweredAtOnce() async throws {
        try await SimulatorHarness.run(SimulatorConfiguration(healthWindowMillis: 1_500)) {
            sim async throws in
            #expect(try await sim.send(.GET, "/payments/service-health").status == 200)
            try await Task.sleep(for: .milliseconds(1_600))
            let clock = ContinuousClock()
            let start = clock.now
            #expect(try await sim.send(.GET, "/payments/service-health").status == 200)
            // Held, it would wait for the next window (up to 1.5 s).
            #expect((clock.now - start).millis < 1_000)
        }
    }
}
