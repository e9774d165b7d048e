import PaymentCore
import TestSupport
import Testing

@Suite("API: POST /payments over a real socket against a real Valkey")
struct PaymentsRouteTests {
    @Test("a valid payment gets 202 with no body and is queued once, with its amount in cents")
    func accepted() async throws {
        try await APIHarness.run { h in
            let id = newID()
            let answer = try await h.pay(id, "19.90")
            #expect(answer.status == 202)
            #expect(answer.body.isEmpty)
            #expect(try await h.store.queueLength() == 1)
            let claimed = try await h.store.claim(worker: "w", limit: 10, processor: .default, requestedAt: 0)
            #expect(claimed.map(\.payment.correlationID) == [id])
            #expect(claimed.map(\.payment.amount) == [Money(cents: 1990)])
        }
    }

    @Test("a repeated correlationId is answered 202 again and not queued twice; another amount is 409")
    func repeated() async throws {
        try await APIHarness.run { h in
            let id = newID()
            #expect(try await h.pay(id, "10.00").status == 202)
            #expect(try await h.pay(id, "10.00").status == 202)
            #expect(try await h.pay(id, "10").status == 202, "the same amount, spelt otherwise")
            #expect(try await h.pay(id.uppercased(), "10.00").status == 202, "the id is not case-sensitive")
            let conflict = try await h.pay(id, "11.00")
            #expect(conflict.status == 409)
            #expect(conflict.bodyText == errorJSON("correlationId already used with another amount"))
            #expect(try await h.store.queueLength() == 1)
            // Still a repeat once a worker has taken it.
            #expect(try await h.claimAndBook(.default, at: WallClock.nowMillis()).count == 1)
            #expect(try await h.pay(id, "10.00").status == 202)
            #expect(try await h.store.queueLength() == 0)
        }
    }

    static let badBodies = [
        "not json", "{", "[]", "", #"{"correlationId":"a"}"#, #"{"amount":1}"#,
        #"{"correlationId":"not-a-uuid","amount":1}"#, #"{"correlationId":123,"amount":1}"#,
        #"{"correlationId":"%s","amount":"19.90"}"#, #"{"correlationId":"%s","amount":0}"#,
        #"{"correlationId":"%s","amount":0.00}"#, #"{"correlationId":"%s","amount":-5}"#,
        #"{"correlationId":"%s","amount":1.234}"#, #"{"correlationId":"%s","amount":0.001}"#,
        #"{"correlationId":"%s","amount":1e2}"#, #"{"correlationId":"%s","amount":null}"#,
        #"{"correlationId":"%s","amount":1,"amount":2}"#, #"{"correlationId":"%s","amount":1} trailing"#,
    ]

    @Test("a bad body gets 400 with a short JSON error, and Valkey is left untouched", arguments: badBodies)
    func badBody(template: String) async throws {
        try await APIHarness.run { h in
            let body = template.replacing("%s", with: newID())
            let answer = try await h.request("POST", "/payments", body: body)
            #expect(answer.status == 400, "\(body)")
            #expect(answer.header("content-type") == "application/json")
            #expect(answer.bodyText.hasPrefix(#"{"error":""#) && answer.bodyText.hasSuffix(#""}"#))
            #expect(answer.body.count < 120)
            #expect(try await h.keyCount() == 0)
        }
    }

    @Test("a body over 1 KiB gets 413 and the connection is closed, declared or chunked, and nothing is stored")
    func oversized() async throws {
        try await APIHarness.run { h in
            let port = h.port
            let body =
                #"{"correlationId":"\#(newID())","amount":1,"pad":""#
                + String(repeating: "x", count: 1100) + #""}"#
            let (declared, declaredClosed) = try await blocking {
                let client = try RawHTTPClient(port: port)
                // The head alone: the length it declares is refused before any body is read.
                let answer = try client.request(
                    "POST /payments HTTP/1.1\r\nHost: api\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
                return (answer, client.waitForClose())
            }
            #expect(declared.status == 413)
            #expect(declared.bodyText == errorJSON("body too large"))
            #expect(declaredClosed)
            let (chunked, chunkedClosed) = try await blocking {
                let client = try RawHTTPClient(port: port)
                let answer = try client.request(
                    "POST /payments HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n")
                return (answer, client.waitForClose())
            }
            #expect(chunked.status == 413)
            #expect(chunked.bodyText == errorJSON("body too large"))
            #expect(chunkedClosed)
            #expect(try await h.keyCount() == 0)
        }
    }

    @Test("an unknown path is 404 and a known path with the wrong method is 405, with JSON errors")
    func routing() async throws {
        try await APIHarness.run { h in
            let body = #"{"correlationId":"\#(newID())","amount":1}"#
            for (method, path) in [("GET", "/nope"), ("POST", "/payment"), ("POST", "/"), ("POST", "/payments/x")] {
                let answer = try await h.request(method, path, body: method == "POST" ? body : nil)
                #expect(answer.status == 404, "\(method) \(path)")
                #expect(answer.bodyText == errorJSON("not found"))
            }
            for (method, path) in [
                ("GET", "/payments"), ("PUT", "/payments"), ("DELETE", "/payments"), ("POST", "/payments-summary"),
                ("GET", "/purge-payments"), ("POST", "/health"),
            ] {
                let answer = try await h.request(method, path, body: method == "GET" ? nil : body)
                #expect(answer.status == 405, "\(method) \(path)")
                #expect(answer.bodyText == errorJSON("method not allowed"))
            }
            #expect(try await h.keyCount() == 0)
        }
    }

    @Test("several payments on one kept-alive connection, pipelined, are each answered 202 in order")
    func pipelined() async throws {
        try await APIHarness.run { h in
            let port = h.port
            let ids = (0..<5).map { _ in newID() }
            let statuses = try await blocking {
                let client = try RawHTTPClient(port: port)
                client.send(
                    ids.map { id in
                        let body = #"{"correlationId":"\#(id)","amount":1.50}"#
                        return
                            "POST /payments HTTP/1.1\r\nHost: api\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                    }.joined())
                return try ids.map { _ in try client.readResponse().status }
            }
            #expect(statuses == [202, 202, 202, 202, 202])
            #expect(try await h.store.queueLength() == 5)
        }
    }
}
