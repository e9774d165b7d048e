import NIOCore
import TestSupport
import Testing

@testable import HTTPWire

/// Feeds `text` to a fresh framer, optionally one byte at a time.
func frame(_ text: String, maxHeader: Int = 8192, maxBody: Int = 1 << 20, byteByByte: Bool = false)
    -> RequestFramer.Outcome
{
    var framer = RequestFramer(maxHeaderBytes: maxHeader, maxBodyBytes: maxBody)
    let bytes = Array(text.utf8)
    if byteByByte {
        var outcome = RequestFramer.Outcome.incomplete
        for end in 1...bytes.count {
            outcome = bytes[..<end].withUnsafeBytes { framer.parse($0) }
            if case .incomplete = outcome { continue }
            if case .sendContinue = outcome { continue }
            return outcome
        }
        return outcome
    }
    return bytes.withUnsafeBytes { framer.parse($0) }
}

func completedHead(_ outcome: RequestFramer.Outcome) -> (RequestHead, Int)? {
    if case .complete(let head, let length) = outcome { return (head, length) }
    return nil
}

@Suite("Request framing and validation, without sockets")
struct RequestFramerTests {
    @Test("a simple keep-alive request is framed whole and needs no rewrite")
    func simple() throws {
        let text =
            "POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"
        let (head, length) = try #require(completedHead(frame(text)))
        #expect(length == text.utf8.count)
        #expect(head.keepAlive && !head.needsRewrite && !head.isHTTP10 && !head.isHeadMethod)
        #expect(head.framing == .length(2))
    }

    @Test("a request arriving byte by byte is framed the same")
    func byteByByte() throws {
        let text =
            "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        let (head, length) = try #require(completedHead(frame(text, byteByByte: true)))
        #expect(head.framing == .chunked)
        #expect(length == text.utf8.count)
    }

    @Test("only the first of two pipelined requests is framed")
    func pipelined() throws {
        let first = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
        let (_, length) = try #require(
            completedHead(frame(first + "GET /b HTTP/1.1\r\nHost: x\r\n\r\n")))
        #expect(length == first.utf8.count)
    }

    @Test("empty lines before a request are skipped")
    func leadingEmptyLines() throws {
        let (head, _) = try #require(completedHead(frame("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")))
        #expect(head.start == 4)
    }

    @Test("HTTP/1.0 closes unless it asks for keep-alive; Connection: close is honoured")
    func keepAliveRules() throws {
        #expect(try #require(completedHead(frame("GET / HTTP/1.0\r\n\r\n"))).0.keepAlive == false)
        let ten = try #require(completedHead(frame("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")))
            .0
        #expect(ten.keepAlive && ten.needsRewrite && ten.isHTTP10)
        let close = try #require(
            completedHead(frame("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        ).0
        #expect(!close.keepAlive && close.needsRewrite)
    }

    @Test(
        "malformed and smuggling-prone requests are refused",
        arguments: [
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                RequestError.malformed
            ),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", .malformed),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", .malformed),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\n", .malformed),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", .malformed),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", .malformed),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", .unsupportedTransferCoding),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                .malformed
            ),
            ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", .malformed),
            ("GET / HTTP/1.1\r\n\r\n", .malformed),  // no Host
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", .malformed),
            ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", .malformed),  // space before colon
            ("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", .malformed),  // obs-fold
            ("GET / HTTP/1.1\nHost: x\n\n", .malformed),  // bare LF
            ("GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", .malformed),  // bare CR
            ("GET / HTTP/1.1\r\nHost: x\r\nX: a\u{0}b\r\n\r\n", .malformed),  // NUL in a value
            ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", .malformed),
            ("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", .malformed),
            ("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", .malformed),
            ("GET /\u{7F} HTTP/1.1\r\nHost: x\r\n\r\n", .malformed),
            ("\u{16}\u{03}\u{01}\u{02}\u{00}\u{01}\u{00}\u{01}\u{fc}\u{03}\u{03}\r\n\r\n", .malformed),  // TLS hello
            ("GET / HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n", .expectationFailed),
        ])
    func refused(text: String, error: RequestError) {
        #expect(frame(text) == .failed(error))
    }

    @Test("a bad chunked body is refused")
    func badChunked() {
        let head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        for body in ["z\r\n", "3\r\nabcd\r\n", "3\nabc\n", "fffffffffffffffff\r\n", "\r\n"] {
            #expect(frame(head + body) == .failed(.malformed), "\(body)")
        }
    }

    @Test("chunk extensions and trailers are accepted")
    func chunkExtras() throws {
        let text =
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;name=v\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n"
        #expect(try #require(completedHead(frame(text))).1 == text.utf8.count)
    }

    @Test("a head over the limit gets 431, even before it is complete")
    func headerTooLarge() {
        let big = "GET / HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "a", count: 300) + "\r\n\r\n"
        #expect(frame(big, maxHeader: 256) == .failed(.headerTooLarge))
        #expect(frame(String(big.prefix(280)), maxHeader: 256) == .failed(.headerTooLarge))
        #expect(
            frame(String(repeating: "\r\n", count: 200), maxHeader: 256) == .failed(.headerTooLarge))
    }

    @Test("a body over the limit gets 413 as soon as its length is known")
    func bodyTooLarge() {
        #expect(
            frame("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n", maxBody: 1000)
                == .failed(.bodyTooLarge))
        let chunked =
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n"
            + String(repeating: "a", count: 1024)
        #expect(frame(chunked, maxBody: 1000) == .failed(.bodyTooLarge))
        #expect(
            frame("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", maxBody: 1000)
                == .incomplete)
    }

    @Test("Expect: 100-continue asks for a 100 once, then waits for the body")
    func expectContinue() throws {
        var framer = RequestFramer(maxHeaderBytes: 8192, maxBodyBytes: 1000)
        let head = Array(
            "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".utf8)
        #expect(head.withUnsafeBytes { framer.parse($0) } == .sendContinue)
        #expect(head.withUnsafeBytes { framer.parse($0) } == .incomplete)
        let whole = head + Array("{}".utf8)
        let (parsed, _) = try #require(completedHead(whole.withUnsafeBytes { framer.parse($0) }))
        #expect(parsed.needsRewrite)
    }

    @Test("an empty body with Content-Length: 0 completes at the head")
    func emptyBody() throws {
        let text = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        let (head, length) = try #require(completedHead(frame(text)))
        #expect(head.framing == .none && length == text.utf8.count)
    }

    @Test("HEAD is recognised by its exact name only")
    func headMethod() throws {
        #expect(try #require(completedHead(frame("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"))).0.isHeadMethod)
        #expect(
            try #require(completedHead(frame("head / HTTP/1.1\r\nHost: x\r\n\r\n"))).0.isHeadMethod
                == false)
    }

    @Test("random garbage never crashes the framer")
    func fuzz() {
        var random = SeededGenerator(seed: 1234)
        let alphabet = Array("GET /HTP1.\r\n:; chunkedContent-Length0123456789abcxyz\u{0}\u{7F}".utf8)
        for _ in 0..<20_000 {
            let count = random.below(120)
            var bytes = Array("POST / HTTP/1.1\r\nHost: x\r\n".utf8)
            for _ in 0..<count { bytes.append(alphabet[random.below(alphabet.count)]) }
            var framer = RequestFramer(maxHeaderBytes: 100, maxBodyBytes: 50)
            for end in stride(from: 1, through: bytes.count, by: 7) {
                if case .failed = bytes[..<end].withUnsafeBytes({ framer.parse($0) }) { break }
            }
        }
    }
}
