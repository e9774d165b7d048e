import ProcessorSimulator
import TestSupport
import Testing

/// The exact bytes over a real socket: what a client written against the real processor reads.
@Suite("The wire format and the request checks, over a real socket")
struct KestrelLiveTests {
    func post(_ body: String, contentType: String = "application/json") -> String {
        "POST /payments HTTP/1.1\r\nHost: processor\r\nContent-Type: \(contentType)\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    static let processedChunked =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nDate: DATE\r\n"
        + "Server: Kestrel\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "2c\r\n{\"message\":\"payment processed successfully\"}\r\n0\r\n\r\n"

    @Test func aPaymentAnswerIsChunkedAsKestrelWritesIt() async throws {
        try await SimulatorHarness.run { sim async throws in
            let connection = try RawHTTPClient(port: sim.simulator.port)
            connection.send(post(paymentBody(newID())))
            let text = connection.read { holdsResponses($0, count: 1) }
            #expect(withoutDates(text) == Self.processedChunked)
        }
    }

    @Test func emptyAnswersCarryContentLengthZero() async throws {
        try await SimulatorHarness.run { sim async throws in
            let connection = try RawHTTPClient(port: sim.simulator.port)
            connection.send("GET /payments/\(newID()) HTTP/1.1\r\nHost: processor\r\n\r\n")
            connection.send(
                "PUT /admin/configurations/token HTTP/1.1\r\nHost: processor\r\nX-Rinha-Token: 123\r\n"
                    + "Content-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"token\":\"t\"}")
            let text = connection.read { holdsResponses($0, count: 2) }
            #expect(
                withoutDates(text)
                    == "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nDate: DATE\r\nServer: Kestrel\r\n\r\n"
                    + "HTTP/1.1 204 No Content\r\nDate: DATE\r\nServer: Kestrel\r\n\r\n")
        }
    }

    @Test func theHealthRefusalIsChunkedTextWithRetryAfter() async throws {
        try await SimulatorHarness.run(SimulatorConfiguration(healthWindowMillis: 60_000)) { sim async throws in
            let get = "GET /payments/service-health HTTP/1.1\r\nHost: processor\r\n\r\n"
            let first = try RawHTTPClient(port: sim.simulator.port)
            first.send(get)
            #expect(
                withoutDates(first.read { holdsResponses($0, count: 1) })
                    == "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nDate: DATE\r\n"
                    + "Server: Kestrel\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "25\r\n{\"failing\":false,\"minResponseTime\":0}\r\n0\r\n\r\n")
            // Two more wait in the queue (for a minute); the next one is refused.
            let queued = try [RawHTTPClient(port: sim.simulator.port), RawHTTPClient(port: sim.simulator.port)]
            for connection in queued { connection.send(get) }
            try await Task.sleep(for: .milliseconds(200))
            let refused = try RawHTTPClient(port: sim.simulator.port)
            refused.send(get)
            #expect(
                withoutDates(refused.read { holdsResponses($0, count: 1) })
                    == "HTTP/1.1 429 Too Many Requests\r\nDate: DATE\r\nServer: Kestrel\r\nRetry-After: 5\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n23\r\nToo many requests. Try again later.\r\n0\r\n\r\n")
            for connection in queued { connection.close() }
        }
    }

    @Test func contentLengthFramingOnRequest() async throws {
        try await SimulatorHarness.run(SimulatorConfiguration(framing: .contentLength)) { sim async throws in
            let connection = try RawHTTPClient(port: sim.simulator.port)
            connection.send(post(paymentBody(newID())))
            #expect(
                withoutDates(connection.read { holdsResponses($0, count: 1) })
                    == "HTTP/1.1 200 OK\r\nContent-Length: 44\r\nContent-Type: application/json; charset=utf-8\r\n"
                    + "Date: DATE\r\nServer: Kestrel\r\n\r\n{\"message\":\"payment processed successfully\"}")
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await SimulatorHarness.run { sim async throws in
            let connection = try RawHTTPClient(port: sim.simulator.port)
            connection.send(post(paymentBody(newID())) + post(paymentBody(newID())))
            let text = connection.read { holdsResponses($0, count: 2) }
            #expect(withoutDates(text) == Self.processedChunked + Self.processedChunked)
        }
    }

    @Test func anHTTP11RequestWithoutHostIs400AndTheConnectionCloses() async throws {
        try await SimulatorHarness.run { sim async throws in
            let connection = try RawHTTPClient(port: sim.simulator.port)
            let id = newID()
            let body = paymentBody(id)
            connection.send(
                "POST /payments HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            )
            #expect(connection.waitForClose())
            #expect(
                withoutDates(connection.text)
                    == "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\nDate: DATE\r\n"
                    + "Server: Kestrel\r\n\r\n")
            #expect(try await sim.send(.GET, "/payments/\(id)").status == 404)
            // HTTP/1.0 needs no Host (and gets no chunks).
            let old = try RawHTTPClient(port: sim.simulator.port)
            old.send("GET /payments/service-health HTTP/1.0\r\n\r\n")
            #expect(old.waitForClose())
            #expect(old.text.hasPrefix("HTTP/1.1 200 OK\r\nContent-Length: 37\r\nConnection: close\r\n"))
        }
    }

    @Test(arguments: ["text/plain", "application/x-www-form-urlencoded", nil])
    func aPaymentThatIsNotSaidToBeJSONIs415AndNotStored(_ contentType: String?) async throws {
        try await SimulatorHarness.run { sim async throws in
            let id = newID()
            let body = paymentBody(id)
            let connection = try RawHTTPClient(port: sim.simulator.port)
            let typeLine = contentType.map { "Content-Type: \($0)\r\n" } ?? ""
            connection.send(
                "POST /payments HTTP/1.1\r\nHost: processor\r\n\(typeLine)Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
            )
            let text = connection.read { holdsResponses($0, count: 1) }
            #expect(text.hasPrefix("HTTP/1.1 415 Unsupported Media Type\r\n"))
            #expect(try await sim.send(.GET, "/payments/\(id)").status == 404)
            #expect(try await sim.summary().body == emptySummary())
        }
    }

    @Test func aQueuedPaymentWhoseClientLeftBeforeItGotASlotIsNeverStored() async throws {
        let configuration = SimulatorConfiguration(maxInFlight: 1, maxQueued: 1)
        try await SimulatorHarness.run(configuration) { sim async throws in
            // Steps 300 ms apart within a 1.5 s delay: their order holds on a busy machine.
            _ = try await sim.setDelay(1_500)
            let running = newID()
            let dropped = newID()
            let next = newID()
            async let first = sim.pay(running)
            try await Task.sleep(for: .milliseconds(300))
            let leaving = try RawHTTPClient(port: sim.simulator.port)
            leaving.send(post(paymentBody(dropped)))
            try await Task.sleep(for: .milliseconds(300))
            leaving.close()  // still queued: the only slot is busy for another 900 ms
            try await Task.sleep(for: .milliseconds(150))
            // Its place in the queue is free again: this one queues instead of getting a 429.
            let third = try await sim.pay(next)
            #expect(third.status == 200)
            #expect(try await first.status == 200)
            // Long after the dropped call would have finished its own delay.
            try await Task.sleep(for: .milliseconds(2_000))
            #expect(try await sim.send(.GET, "/payments/\(dropped)").status == 404)
            #expect(try await sim.send(.GET, "/payments/\(running)").status == 200)
            #expect(try await sim.summary().body.hasPrefix(#"{"totalRequests":2,"#))
        }
    }

    @Test func healthWaitersAreServedOnePerWindow() async throws {
        try await SimulatorHarness.run(SimulatorConfiguration(healthWindowMillis: 1_500)) { sim async throws in
            let clock = ContinuousClock()
            let start = clock.now
            #expect(try await sim.send(.GET, "/payments/service-health").status == 200)
            let answers = try await withThrowingTaskGroup(of: (Int, Int64).self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        let answer = try await sim.send(.GET, "/payments/service-health")
                        return (answer.status, (clock.now - start).millis)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }.sorted { $0.1 < $1.1 }
            #expect(answers.map(\.0) == [200, 200])
            // The first waiter gets the next window, the second the one after it. The bounds from
            // the start only grow with a late answer; the gap between the answers shrinks when the
            // first one is read late (by up to 410 ms in full `swift test` runs on a busy machine,
            // with 600 ms windows), hence windows of 1.5 s and a gap of half a window: answers
            // of one window would be ~0 ms apart.
            #expect(answers[0].1 >= 1_450)
            #expect(answers[1].1 >= 2_950)
            #expect(answers[1].1 - answers[0].1 >= 750)
        }
    }
}
