import Testing

@testable import PaymentCore

@Suite("TimeWindow from a query string")
struct TimeWindowTests {
    static let from: Int64 = 1_752_150_896_000  // 2025-07-10T12:34:56.000Z
    static let to: Int64 = 1_752_150_956_789  // 2025-07-10T12:35:56.789Z

    func window(_ query: String?) -> TimeWindow? {
        try? TimeWindow(query: query)
    }

    @Test("no query string, an empty one or one without from/to is unbounded")
    func unbounded() {
        #expect(window(nil) == TimeWindow())
        #expect(window("") == TimeWindow())
        #expect(window("x=1&y") == TimeWindow())
        #expect(window("from=&to=") == TimeWindow())
    }

    @Test("from and to sent unencoded, as the load test sends them, are read to the millisecond")
    func unencoded() {
        #expect(
            window("from=2025-07-10T12:34:56.000Z&to=2025-07-10T12:35:56.789Z")
                == TimeWindow(from: Self.from, to: Self.to))
    }

    @Test("from and to percent-encoded give the same window")
    func encoded() {
        #expect(
            window("from=2025-07-10T12%3A34%3A56.000Z&to=2025-07-10T12%3a35%3a56%2E789%5A")
                == TimeWindow(from: Self.from, to: Self.to))
    }

    @Test("a literal + is an offset sign, not a space; %2B is the same")
    func plusIsLiteral() {
        #expect(window("from=2025-07-10T13:34:56.000+01:00") == TimeWindow(from: Self.from))
        #expect(window("from=2025-07-10T13:34:56.000%2B01:00") == TimeWindow(from: Self.from))
        #expect(window("to=2025-07-10T09:35:56.789-03:00") == TimeWindow(to: Self.to))
    }

    @Test("a missing bound is unbounded on that side")
    func oneBound() {
        #expect(window("from=2025-07-10T12:34:56.000Z") == TimeWindow(from: Self.from, to: nil))
        #expect(window("to=2025-07-10T12:35:56.789Z") == TimeWindow(from: nil, to: Self.to))
        #expect(window("to=2025-07-10T12:35:56.789Z&from=") == TimeWindow(from: nil, to: Self.to))
        #expect(window("other=1&to=2025-07-10T12:35:56.789Z&x") == TimeWindow(from: nil, to: Self.to))
    }

    @Test(
        "a bad value or a bad escape is a failure",
        arguments: [
            "from=yesterday", "from=2025-07-10", "to=2025-13-01T00:00:00Z", "from=1752150896000",
            "from=2025-07-10T12:34:56.000Z%20", "from=2025-07-10T12:34:56.000Z ", "from=%zz", "from=%4",
            "to=%",
            "%zz=1", "from=2025-07-10T12:34:56.000+01:00:00", "x=%FF",
        ])
    func failure(query: String) {
        #expect(window(query) == nil)
    }

    @Test("the failure message names the bound")
    func failureMessage() {
        #expect(throws: InvalidInput(message: "to must be an ISO-8601 timestamp")) {
            try TimeWindow(query: "from=2025-07-10T12:34:56.000Z&to=soon")
        }
    }
}
