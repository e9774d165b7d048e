import HTTPServerKit
import NIOCore
import NIOHTTP1
import Testing

@testable import ProcessorSimulator

@Suite("Responses framed byte for byte as Kestrel frames them")
struct KestrelFramingTests {
    let date = "Tue, 15 Jul 2025 12:34:56 GMT"

    static let dates: [(Int64, String)] = [
        (Int64(0), "Thu, 01 Jan 1970 00:00:00 GMT"),
        (Int64(1_752_582_896), "Tue, 15 Jul 2025 12:34:56 GMT"),
        (Int64(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT"),
        (Int64(-1), "Wed, 31 Dec 1969 23:59:59 GMT"),
    ]

    func writes(
        _ response: HTTPServerResponse, _ framing: ResponseFraming = .chunked, close: Bool = false
    ) -> [String] {
        KestrelFraming.encode(response, date: date, framing: framing, close: close).map {
            String(buffer: $0)
        }
    }

    @Test func aJSONBodyIsOneChunkThenTheLastChunkInASecondWrite() {
        #expect(
            writes(.processed) == [
                "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nDate: \(date)\r\n"
                    + "Server: Kestrel\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "2c\r\n{\"message\":\"payment processed successfully\"}\r\n",
                "0\r\n\r\n",
            ])
    }

    @Test func anEmptyBodyHasContentLengthZeroInOneWrite() {
        #expect(
            writes(.failure) == [
                "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nDate: \(date)\r\nServer: Kestrel\r\n\r\n"
            ])
        #expect(
            writes(.notFound) == [
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nDate: \(date)\r\nServer: Kestrel\r\n\r\n"
            ])
    }

    @Test func noContentHasNoContentLength() {
        #expect(
            writes(HTTPServerResponse(status: .noContent)) == [
                "HTTP/1.1 204 No Content\r\nDate: \(date)\r\nServer: Kestrel\r\n\r\n"
            ])
    }

    @Test func theRateLimitRefusalIsChunkedTextWithRetryAfterAfterServer() {
        #expect(
            writes(.tooManyRequests) == [
                "HTTP/1.1 429 Too Many Requests\r\nDate: \(date)\r\nServer: Kestrel\r\nRetry-After: 5\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n23\r\nToo many requests. Try again later.\r\n",
                "0\r\n\r\n",
            ])
    }

    @Test func contentLengthFramingIsOneWriteWithTheLengthFirst() {
        #expect(
            writes(.processed, .contentLength) == [
                "HTTP/1.1 200 OK\r\nContent-Length: 44\r\nContent-Type: application/json; charset=utf-8\r\n"
                    + "Date: \(date)\r\nServer: Kestrel\r\n\r\n{\"message\":\"payment processed successfully\"}"
            ])
    }

    @Test func aClosingAnswerSaysSoAfterContentLength() {
        #expect(
            writes(HTTPServerResponse(status: .badRequest), close: true) == [
                "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\nDate: \(date)\r\n"
                    + "Server: Kestrel\r\n\r\n"
            ])
        #expect(
            writes(.processed, close: true)[0].hasPrefix(
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n"))
    }

    @Test func theChunkSizeIsLowerCaseHex() {
        let body = String(repeating: "x", count: 255)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        let response = HTTPServerResponse(status: .ok, headers: headers, body: ByteBuffer(string: body))
        #expect(writes(response)[0].hasSuffix("\r\n\r\nff\r\n\(body)\r\n"))
    }

    @Test(arguments: dates)
    func theDateHeaderIsRFC1123(_ seconds: Int64, _ text: String) {
        #expect(KestrelFraming.httpDate(epochSeconds: seconds) == text)
    }
}
