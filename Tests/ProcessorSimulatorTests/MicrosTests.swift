import HTTPServerKit
import NIOCore
import NIOHTTP1
import Testing

@testable import ProcessorSimulator

@Suite("Timestamps to the microsecond, printed as .NET prints them")
struct MicrosTests {
    static let noon: Int64 = 1_752_582_896  // 2025-07-15T12:34:56Z

    static let parsed: [(String, Int64)] = [
        ("2025-07-15T12:34:56.789Z", noon * 1_000_000 + 789_000),
        ("2025-07-15T12:34:56Z", noon * 1_000_000),
        ("2025-07-15T12:34:56.123456Z", noon * 1_000_000 + 123_456),
        ("2025-07-15T12:34:56.1234567Z", noon * 1_000_000 + 123_456),  // truncated, as Npgsql does
        ("2025-07-15T12:34:56.5Z", noon * 1_000_000 + 500_000),
        ("2025-07-15T15:34:56.000001+03:00", noon * 1_000_000 + 1),
        ("2025-07-15T12:34:56.789", noon * 1_000_000 + 789_000),  // no zone: stored as given
        ("1969-12-31T23:59:59.999999Z", -1),
    ]

    static let printed: [(Int64, String)] = [
        (noon * 1_000_000 + 789_000, "2025-07-15T12:34:56.789"),
        (noon * 1_000_000, "2025-07-15T12:34:56"),
        (noon * 1_000_000 + 1, "2025-07-15T12:34:56.000001"),
        (noon * 1_000_000 + 120_000, "2025-07-15T12:34:56.12"),
        (Int64(-1), "1969-12-31T23:59:59.999999"),
    ]

    @Test(arguments: parsed)
    func parsing(_ text: String, _ micros: Int64) {
        #expect(Micros.parse(text) == micros)
    }

    @Test(arguments: ["2025-07-15", "2025-07-15T12:34", "yesterday", "2025-07-15T12:34:56.Z", ""])
    func notTimestamps(_ text: String) {
        #expect(Micros.parse(text) == nil)
    }

    @Test(arguments: printed)
    func printing(_ micros: Int64, _ text: String) {
        #expect(Micros.formatDotNet(micros) == text)
    }

    @Test func summaryBoundsAreReadToTheMicrosecond() throws {
        let window = try Micros.window("from=2025-07-15T12:34:56.000001Z&to=2025-07-15T12:34:56.5Z").get()
        #expect(window.from == Self.noon * 1_000_000 + 1)
        #expect(window.to == Self.noon * 1_000_000 + 500_000)
        #expect(try Micros.window(nil).get().from == nil)
        #expect(throws: BadRequest.self) { try Micros.window("to=2025-07-15").get() }
    }
}

@Suite("Body binding before a JSON body is read")
struct BodyBindingTests {
    @Test(arguments: [
        "application/json", "application/json; charset=utf-8", "Application/JSON",
        "application/problem+json", " application/json ;charset=utf-8",
    ])
    func jsonTypes(_ type: String) {
        #expect(BodyBinding.isJSON(type))
    }

    @Test(arguments: ["text/plain", "application/x-www-form-urlencoded", "text/json", "json", "application/jsonx", ""])
    func otherTypes(_ type: String) {
        #expect(!BodyBinding.isJSON(type))
    }

    func request(contentType: String?, body: String) -> HTTPServerRequest {
        var headers = HTTPHeaders()
        if let contentType { headers.add(name: "Content-Type", value: contentType) }
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        return HTTPServerRequest(
            head: HTTPRequestHead(version: .http1_1, method: .POST, uri: "/payments", headers: headers),
            body: ByteBuffer(string: body))
    }

    @Test func aBodyThatIsNotSaidToBeJSONIs415AndNoBodyIs400() {
        #expect(BodyBinding.refusal(request(contentType: "text/plain", body: "{}"))?.status == .unsupportedMediaType)
        #expect(BodyBinding.refusal(request(contentType: nil, body: "{}"))?.status == .unsupportedMediaType)
        #expect(BodyBinding.refusal(request(contentType: "text/plain", body: ""))?.status == .badRequest)
        #expect(BodyBinding.refusal(request(contentType: "application/json", body: "{}")) == nil)
    }
}
