import ProcessorSimulator
import TestSupport
import Testing

@Suite("The admin API over a real socket")
struct AdminLiveTests {
    @Test func aMissingOrWrongTokenIs401() async throws {
        try await SimulatorHarness.run { sim async throws in
            #expect(try await sim.send(.GET, "/admin/payments-summary").status == 401)
            #expect(try await sim.summary(token: "1234").status == 401)
            #expect(try await sim.send(.POST, "/admin/purge-payments", token: "bad").status == 401)
            #expect(
                try await sim.send(.PUT, "/admin/configurations/delay", body: #"{"delay":5}"#).status == 401
            )
            #expect(try await sim.summary(token: "123").status == 200)
        }
    }

    @Test func changingTheTokenAnswers204AndOnlyTheNewTokenWorks() async throws {
        try await SimulatorHarness.run(SimulatorConfiguration(token: "first")) { sim async throws in
            #expect(try await sim.summary(token: "123").status == 401)
            let change = try await sim.send(
                .PUT, "/admin/configurations/token", body: #"{"token":"s3cr3t"}"#, token: "first")
            #expect(change.status == 204)
            #expect(change.body.isEmpty)
            #expect(try await sim.summary(token: "first").status == 401)
            #expect(try await sim.summary(token: "s3cr3t").status == 200)
            let bad = try await sim.send(
                .PUT, "/admin/configurations/token", body: #"{"token":""}"#, token: "s3cr3t")
            #expect(bad.status == 400)
        }
    }

    @Test func delayAndFailureAnswerWithWasAndIs() async throws {
        try await SimulatorHarness.run { sim async throws in
            let first = try await sim.setDelay(100)
            #expect(first.status == 200)
            #expect(first.body == #"{"config":"delay","was":0,"is":100}"#)
            #expect(try await sim.setDelay(2000).body == #"{"config":"delay","was":100,"is":2000}"#)
            #expect(try await sim.setFailure(true).body == #"{"config":"failure","was":false,"is":true}"#)
            #expect(try await sim.setFailure(true).body == #"{"config":"failure","was":true,"is":true}"#)
            #expect(
                try await sim.setFailure(false).body == #"{"config":"failure","was":true,"is":false}"#)
        }
    }

    @Test(arguments: [
        ("/admin/configurations/delay", #"{"delay":-1}"#),
        ("/admin/configurations/delay", #"{"delay":"100"}"#),
        ("/admin/configurations/delay", #"{"delay":1.5}"#),
        ("/admin/configurations/delay", #"{}"#),
        ("/admin/configurations/failure", #"{"failure":"true"}"#),
        ("/admin/configurations/failure", #"{"failure":1}"#),
        ("/admin/configurations/token", #"{"token":123}"#),
        ("/admin/configurations/token", "token"),
    ])
    func badConfigurationBodiesGet400AndChangeNothing(_ path: String, _ body: String) async throws {
        try await SimulatorHarness.run { sim async throws in
            #expect(try await sim.send(.PUT, path, body: body, token: "123").status == 400)
            #expect(try await sim.setDelay(0).body == #"{"config":"delay","was":0,"is":0}"#)
            #expect(
                try await sim.setFailure(false).body == #"{"config":"failure","was":false,"is":false}"#)
            #expect(try await sim.summary(token: "123").status == 200)
        }
    }

    @Test func purgeRemovesEveryPayment() async throws {
        try await SimulatorHarness.run { sim async throws in
            let id = newID()
            #expect(try await sim.pay(id).status == 200)
            #expect(try await sim.pay(newID()).status == 200)
            let purge = try await sim.send(.POST, "/admin/purge-payments", token: "123")
            #expect(purge.status == 200)
            #expect(purge.body == #"{"message":"All payments purged."}"#)
            #expect(try await sim.summary().body == emptySummary())
            #expect(try await sim.send(.GET, "/payments/\(id)").status == 404)
            #expect(try await sim.pay(id).status == 200)  // the id is free again
        }
    }

    @Test func sumsAndFeesAreExactDecimals() async throws {
        try await SimulatorHarness.run { sim async throws in
            for _ in 0..<3 { #expect(try await sim.pay(newID(), amount: "19.90").status == 200) }
            #expect(
                try await sim.summary().body
                    == #"{"totalRequests":3,"totalAmount":59.70,"totalFee":2.985,"feePerTransaction":0.05}"#)
        }
        try await SimulatorHarness.run(SimulatorConfiguration(feeRate: "0.07")) { sim async throws in
            #expect(try await sim.pay(newID(), amount: "20.05").status == 200)
            #expect(try await sim.pay(newID(), amount: "0.1").status == 200)
            #expect(
                try await sim.summary().body
                    == #"{"totalRequests":2,"totalAmount":20.15,"totalFee":1.4105,"feePerTransaction":0.07}"#)
        }
    }

    @Test func summaryWindowsAreInclusiveAtBothEnds() async throws {
        try await SimulatorHarness.run { sim async throws in
            #expect(
                try await sim.pay(newID(), amount: "1.00", at: "2025-07-10T12:00:00.000Z").status == 200)
            #expect(
                try await sim.pay(newID(), amount: "2.00", at: "2025-07-10T12:00:00.001Z").status == 200)
            #expect(
                try await sim.pay(newID(), amount: "4.00", at: "2025-07-10T12:00:02.000Z").status == 200)
            #expect(
                try await sim.pay(newID(), amount: "8.00", at: "2025-07-10T12:00:02.001Z").status == 200)
            func total(_ query: String) async throws -> String {
                let answer = try await sim.summary(query)
                #expect(answer.status == 200, "\(query)")
                return String(answer.body.split(separator: ",")[1])
            }
            #expect(try await total("") == #""totalAmount":15.00"#)
            #expect(
                try await total("?from=2025-07-10T12:00:00.001Z&to=2025-07-10T12:00:02.000Z")
                    == #""totalAmount":6.00"#)
            #expect(
                try await total("?from=2025-07-10T12:00:00.000Z&to=2025-07-10T12:00:00.000Z")
                    == #""totalAmount":1.00"#)
            #expect(try await total("?from=2025-07-10T12:00:00.001Z") == #""totalAmount":14.00"#)
            #expect(try await total("?to=2025-07-10T12:00:02.000Z") == #""totalAmount":7.00"#)
            #expect(try await total("?from=&to=") == #""totalAmount":15.00"#)
            #expect(
                try await total("?from=2025-07-10T12:00:03.000Z&to=2025-07-10T12:00:00.000Z")
                    == #""totalAmount":0.00"#)
            // An offset with a literal `+` (not a space), and percent-encoded colons.
            #expect(try await total("?from=2025-07-10T15:00:00.001+03:00") == #""totalAmount":14.00"#)
            #expect(try await total("?to=2025-07-10T12%3A00%3A00.001Z") == #""totalAmount":3.00"#)
        }
    }

    @Test(arguments: [
        "?from=yesterday", "?to=2025-07-10", "?from=2025-07-10T12:00:00.000Z&to=%ZZ",
        "?to=2025-13-01T00:00:00Z",
    ])
    func badSummaryBoundsGet400(_ query: String) async throws {
        try await SimulatorHarness.run { sim async throws in
            #expect(try await sim.summary(query).status == 400)
        }
    }
}
