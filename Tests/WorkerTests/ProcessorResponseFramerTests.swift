import Testing

@testable import Worker

/// Feeds `text` to a fresh framer in pieces cut at `cuts` (offsets), accumulating like the
/// handler does, and returns the outcome after the last piece (or the first final one).
func frame(_ text: String, cuts: [Int] = []) -> ProcessorResponseFramer.Outcome {
    let bytes = Array(text.utf8)
    var framer = ProcessorResponseFramer()
    let ends = (cuts + [bytes.count]).filter { $0 > 0 && $0 <= bytes.count }
    var last = ProcessorResponseFramer.Outcome.incomplete
    for end in ends {
        last = bytes[..<end].withUnsafeBytes { framer.parse($0) }
        if last != .incomplete { return last }
    }
    return last
}

/// What Kestrel sends for an accepted payment: the head and the first chunk in one write, the
/// last chunk in a second.
let kestrelHead =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nDate: Thu, 10 Jul 2025 12:34:56 GMT\r\nServer: Kestrel\r\nTransfer-Encoding: chunked\r\n\r\n"
let kestrelBody = #"{"message":"payment processed successfully"}"#
let kestrelFirstWrite = kestrelHead + "2c\r\n" + kestrelBody + "\r\n"
let kestrel = kestrelFirstWrite + "0\r\n\r\n"
let lengthFramed =
    "HTTP/1.1 200 OK\r\nContent-Length: 44\r\nContent-Type: application/json\r\n\r\n" + kestrelBody

func response(_ status: Int, _ body: String, keepAlive: Bool = true, consumed: Int)
    -> ProcessorResponseFramer.Outcome
{
    .complete(ProcessorResponse(status: status, body: Array(body.utf8), keepAlive: keepAlive), consumed: consumed)
}

@Suite("ProcessorResponseFramer")
struct ProcessorResponseFramerTests {
    @Test("Kestrel's chunked answer in one piece gives its status and exact body")
    func chunkedWhole() {
        #expect(kestrelBody.utf8.count == 0x2c)
        #expect(frame(kestrel) == response(200, kestrelBody, consumed: kestrel.utf8.count))
    }

    @Test("Kestrel's chunked answer split at every byte offset gives the same response")
    func chunkedEverySplit() {
        let whole = response(200, kestrelBody, consumed: kestrel.utf8.count)
        for cut in 1..<kestrel.utf8.count {
            #expect(frame(kestrel, cuts: [cut]) == whole, "cut at \(cut)")
        }
        // And one byte at a time.
        #expect(frame(kestrel, cuts: Array(1..<kestrel.utf8.count)) == whole)
    }

    @Test("the first of Kestrel's two writes alone is incomplete")
    func chunkedFirstWriteIncomplete() {
        #expect(frame(kestrelFirstWrite) == .incomplete)
    }

    @Test("a Content-Length answer, whole and split at every byte offset")
    func contentLength() {
        let whole = response(200, kestrelBody, consumed: lengthFramed.utf8.count)
        #expect(frame(lengthFramed) == whole)
        for cut in 1..<lengthFramed.utf8.count {
            #expect(frame(lengthFramed, cuts: [cut]) == whole, "cut at \(cut)")
        }
    }

    @Test("bytes after the response are not part of it")
    func trailingBytes() {
        #expect(frame(lengthFramed + "HTTP/1.1") == response(200, kestrelBody, consumed: lengthFramed.utf8.count))
        #expect(frame(kestrel + "X") == response(200, kestrelBody, consumed: kestrel.utf8.count))
    }

    @Test("several chunks, extensions and trailer fields")
    func chunksExtensionsTrailers() {
        let text =
            "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n3;name=value\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n"
        #expect(frame(text) == response(200, "abc0123456789", consumed: text.utf8.count))
    }

    @Test("a 500 with an empty body, a 204 and a 422 are framed")
    func otherStatuses() {
        let empty = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
        #expect(frame(empty) == response(500, "", consumed: empty.utf8.count))
        let noContent = "HTTP/1.1 204 No Content\r\nServer: Kestrel\r\n\r\n"
        #expect(frame(noContent) == response(204, "", consumed: noContent.utf8.count))
        let kestrel500 = "HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        #expect(frame(kestrel500) == response(500, "", consumed: kestrel500.utf8.count))
        let duplicate = "HTTP/1.1 422 Unprocessable Entity\r\nContent-Length: 2\r\n\r\n{}"
        #expect(frame(duplicate) == response(422, "{}", consumed: duplicate.utf8.count))
    }

    @Test("an interim 100 Continue is skipped")
    func interim() {
        let text = "HTTP/1.1 100 Continue\r\n\r\n" + lengthFramed
        #expect(frame(text) == response(200, kestrelBody, consumed: text.utf8.count))
    }

    @Test("Connection: close and HTTP/1.0 end the connection after the response")
    func keepAlive() {
        let close = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
        #expect(frame(close) == response(200, "{}", keepAlive: false, consumed: close.utf8.count))
        let old = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}"
        #expect(frame(old) == response(200, "{}", keepAlive: false, consumed: old.utf8.count))
        let oldKept = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n{}"
        #expect(frame(oldKept) == response(200, "{}", keepAlive: true, consumed: oldKept.utf8.count))
    }

    @Test("a body without framing runs until the close")
    func untilClose() {
        let text = "HTTP/1.1 200 OK\r\n\r\n{\"a\":1}"
        let bytes = Array(text.utf8)
        var framer = ProcessorResponseFramer()
        #expect(bytes.withUnsafeBytes { framer.parse($0) } == .incomplete)
        #expect(
            bytes.withUnsafeBytes { framer.finish($0) }
                == response(200, #"{"a":1}"#, keepAlive: false, consumed: bytes.count))
    }

    @Test("a close inside a framed response is malformed")
    func cutShort() {
        let bytes = Array(kestrelFirstWrite.utf8)
        var framer = ProcessorResponseFramer()
        #expect(bytes.withUnsafeBytes { framer.parse($0) } == .incomplete)
        #expect(bytes.withUnsafeBytes { framer.finish($0) } == .malformed)
        #expect(ProcessorResponseFramer().finish(UnsafeRawBufferPointer(start: nil, count: 0)) == .malformed)
    }

    @Test(
        "answers outside HTTP/1.1's grammar are malformed",
        arguments: [
            "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",  // bare LF
            "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n",
            "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n",  // obs-fold
            "HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n",
            "http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",  // both framings
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n\r\nx",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n",  // over the body limit
            "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\n: x\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: a\u{01}b\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",  // not hex
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",  // no size
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",  // longer than said
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n",  // bare LF
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n123456789\r\n",  // too many digits
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\r",
        ])
    func malformed(text: String) {
        #expect(frame(text) == .malformed, "\(text.debugDescription)")
        // Split anywhere, it is just as malformed.
        for cut in 1..<text.utf8.count {
            #expect(frame(text, cuts: [cut]) == .malformed, "\(text.debugDescription) cut at \(cut)")
        }
    }

    @Test("a head that never ends is malformed once over the limit")
    func headLimit() {
        let text = "HTTP/1.1 200 OK\r\n" + String(repeating: "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", count: 300)
        #expect(frame(text) == .malformed)
        #expect(frame("HTTP/1.1 200 OK\r\nX-Filler: a\r\n") == .incomplete)
    }

    @Test("a chunked body over the limit is malformed")
    func bodyLimit() {
        let chunk = "8000\r\n" + String(repeating: "a", count: 0x8000) + "\r\n"
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + chunk + chunk
        #expect(frame(text) == .malformed)
        // Split where a chunk's size has been read and none of its bytes yet: the next size must
        // still count that whole chunk, not only the bytes received so far.
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8.count
        for offset in [0, 1, 2] {
            let cut = head + chunk.utf8.count + "8000\r\n".utf8.count + offset
            #expect(frame(text, cuts: [cut]) == .malformed, "cut at \(cut)")
        }
    }

    @Test("the framer is reusable after a complete response")
    func reuse() {
        var framer = ProcessorResponseFramer()
        let bytes = Array(lengthFramed.utf8)
        let first = bytes.withUnsafeBytes { framer.parse($0) }
        let second = bytes.withUnsafeBytes { framer.parse($0) }
        #expect(first == second)
        #expect(first == response(200, kestrelBody, consumed: bytes.count))
    }
}
