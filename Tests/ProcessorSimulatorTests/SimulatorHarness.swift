import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOPosix
import ProcessorSimulator

/// One answer, body as text (the tests compare JSON text exactly: numbers must not go through `Double`).
struct Answer {
    var status: Int
    var headers: HTTPHeaders
    var body: String
}

/// A simulator on 127.0.0.1, a free port, and an HTTP client for it; both closed by `run`.
struct SimulatorHarness {
    let simulator: ProcessorSimulator
    let client: HTTPClient
    var baseURL: String { "http://127.0.0.1:\(simulator.port)" }

    static func run(
        _ configuration: SimulatorConfiguration = SimulatorConfiguration(),
        _ body: (SimulatorHarness) async throws -> Void
    ) async throws {
        let simulator = try await ProcessorSimulator.start(
            configuration: configuration, group: MultiThreadedEventLoopGroup.singleton)
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        let harness = SimulatorHarness(simulator: simulator, client: client)
        do {
            try await body(harness)
        } catch {
            try? await client.shutdown()
            await simulator.close()
            throw error
        }
        try await client.shutdown()
        await simulator.close()
    }

    func send(
        _ method: HTTPMethod, _ path: String, body: String? = nil, token: String? = nil,
        timeout: TimeAmount = .seconds(10)
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "X-Rinha-Token", value: token) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return Answer(
            status: Int(response.status.code), headers: response.headers, body: String(buffer: bytes))
    }

    func pay(
        _ id: String, amount: String = "19.90", at requestedAt: String = "2025-07-15T12:34:56.000Z"
    )
        async throws -> Answer
    {
        try await send(.POST, "/payments", body: paymentBody(id, amount: amount, at: requestedAt))
    }

    func summary(_ query: String = "", token: String = "123") async throws -> Answer {
        try await send(.GET, "/admin/payments-summary" + query, token: token)
    }

    func setDelay(_ millis: Int) async throws -> Answer {
        try await send(
            .PUT, "/admin/configurations/delay", body: #"{"delay":\#(millis)}"#, token: "123")
    }

    func setFailure(_ failing: Bool) async throws -> Answer {
        try await send(
            .PUT, "/admin/configurations/failure", body: #"{"failure":\#(failing)}"#, token: "123")
    }
}

func paymentBody(
    _ id: String, amount: String = "19.90", at requestedAt: String = "2025-07-15T12:34:56.000Z"
) -> String {
    #"{"correlationId":"\#(id)","amount":\#(amount),"requestedAt":"\#(requestedAt)"}"#
}

func emptySummary(fee: String = "0.05") -> String {
    #"{"totalRequests":0,"totalAmount":0.00,"totalFee":0.00,"feePerTransaction":\#(fee)}"#
}

extension Duration {
    var millis: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}

/// The text with every `Date:` value replaced by `DATE`, once checked to be an RFC 1123 date.
func withoutDates(_ text: String) -> String {
    var out = ""
    var rest = Substring(text)
    while let range = rest.firstRange(of: "Date: ") {
        out += rest[..<range.upperBound]
        rest = rest[range.upperBound...]
        let end = rest.firstRange(of: "\r\n")?.lowerBound ?? rest.endIndex
        let value = rest[..<end]
        let looksRight = value.count == 29 && value.hasSuffix(" GMT") && value.dropFirst(3).hasPrefix(", ")
        out += looksRight ? "DATE" : "BAD-DATE(\(value))"
        rest = rest[end...]
    }
    return out + rest
}
