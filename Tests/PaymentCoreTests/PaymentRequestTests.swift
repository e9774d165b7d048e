import Testing

@testable import PaymentCore

@Suite("PaymentRequest")
struct PaymentRequestTests {
    static let id = "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3"

    func parse(_ text: String) -> Result<PaymentRequest, InvalidInput> {
        PaymentRequest.parse(body: Array(text.utf8))
    }

    func message(_ text: String) -> String? {
        if case .failure(let invalid) = parse(text) { return invalid.message }
        return nil
    }

    @Test("a well-formed body gives the id and the exact amount")
    func valid() throws {
        let request = try parse(#"{"correlationId":"\#(Self.id)","amount":19.90}"#).get()
        #expect(request == PaymentRequest(correlationID: Self.id, amount: Money(cents: 1990)))
    }

    @Test(
        "member order, spaces, unknown members and zeros past the second decimal do not matter",
        arguments: [
            #"{"amount":19.90,"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3"}"#,
            #" { "correlationId" : "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3" ,"amount": 19.9 } "#,
            #"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":19.900}"#,
            #"{"requestedAt":"x","correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","extra":{"a":[1]},"amount":19.90}"#,
        ])
    func equivalentBodies(body: String) throws {
        #expect(
            try parse(body).get() == PaymentRequest(correlationID: Self.id, amount: Money(cents: 1990)))
    }

    @Test("the correlationId is stored lower-cased, so one payment has one key")
    func lowerCased() throws {
        let request = try parse(#"{"correlationId":"4A7901B8-7D26-4D9D-AA19-4DC1C7CF60B3","amount":1}"#)
            .get()
        #expect(request.correlationID == Self.id)
        #expect(request.amount == Money(cents: 100))
    }

    @Test(
        "a body that is not one JSON object is refused",
        arguments: [
            "", "null", "[]", "\"x\"", "{",
            #"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":19.90"#,
            #"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":19.90}}"#,
            #"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":19.90,}"#,
            #"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3" "amount":19.90}"#,
            "correlationId=x&amount=1",
        ])
    func notAnObject(body: String) {
        #expect(message(body) == "body must be a JSON object")
    }

    @Test(
        "a missing member is refused",
        arguments: [
            (#"{"amount":19.90}"#, "correlationId is required"),
            (#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3"}"#, "amount is required"),
            ("{}", "correlationId is required"),
            (
                #"{"CorrelationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":1}"#,
                "correlationId is required"
            ),
        ])
    func missing(body: String, expected: String) {
        #expect(message(body) == expected)
    }

    @Test(
        "a member of the wrong type is refused",
        arguments: [
            (
                #"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":"19.90"}"#,
                "amount must be a number"
            ),
            (
                #"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":null}"#,
                "amount must be a number"
            ),
            (
                #"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":[19.90]}"#,
                "amount must be a number"
            ),
            (
                #"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":true}"#,
                "amount must be a number"
            ),
            (#"{"correlationId":12345,"amount":19.90}"#, "correlationId must be a string"),
            (#"{"correlationId":null,"amount":19.90}"#, "correlationId must be a string"),
            (#"{"correlationId":{"id":"x"},"amount":19.90}"#, "correlationId must be a string"),
        ])
    func wrongType(body: String, expected: String) {
        #expect(message(body) == expected)
    }

    @Test(
        "a correlationId that is not a UUID is refused",
        arguments: [
            "", "abc", "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b", "4a7901b87d264d9daa194dc1c7cf60b3",
            "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60bz", " 4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3",
            "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3|1",
        ])
    func notAUUID(id: String) {
        #expect(
            message(#"{"correlationId":"\#(id)","amount":19.90}"#) == "correlationId must be a UUID")
    }

    @Test(
        "an amount that is not a positive number with at most two decimals is refused",
        arguments: [
            "0", "0.00", "-0", "-1", "-19.90", "1.234", "19.901", "1e2", "1E2", "2e-2", "100000000000.01",
            "1e400",
        ])
    func badAmount(amount: String) {
        #expect(
            message(#"{"correlationId":"\#(Self.id)","amount":\#(amount)}"#)
                == "amount must be a positive number with at most 2 decimals")
    }

    @Test("a repeated member is refused even with the same value")
    func repeated() {
        #expect(
            message(#"{"correlationId":"\#(Self.id)","amount":19.90,"amount":19.90}"#)
                == "amount given twice")
        #expect(
            message(#"{"correlationId":"\#(Self.id)","correlationId":"\#(Self.id)","amount":19.90}"#)
                == "correlationId given twice")
        #expect(
            message(#"{"amount":1,"correlationId":"\#(Self.id)","amount":2}"#) == "amount given twice")
    }

    @Test("an escaped correlationId is decoded before it is checked")
    func escapedID() throws {
        let request = try parse(
            #"{"correlationId":"4a7901b8\u002d7d26-4d9d-aa19-4dc1c7cf60b3","amount":20.05}"#
        ).get()
        #expect(request == PaymentRequest(correlationID: Self.id, amount: Money(cents: 2005)))
    }
}
