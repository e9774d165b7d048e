import Testing
import TextFormats

@Suite("ChunkedBodyScanner")
struct ChunkedBodyScannerTests {
    /// Scans `text` fed in pieces of `step` bytes; returns the data bytes and the end index.
    func scan(_ text: String, step: Int, maxSizeDigits: Int = 15) -> (data: String, end: Int?)? {
        let bytes = Array(text.utf8)
        var scanner = ChunkedBodyScanner(maxSizeDigits: maxSizeDigits)
        var data: [UInt8] = []
        var from = 0
        var upTo = 0
        while upTo < bytes.count {
            upTo = min(bytes.count, upTo + step)
            let slice = Array(bytes[..<upTo])
            do {
                let end = try slice.withUnsafeBytes { p in
                    try scanner.scan(p, from: from) { data.append(contentsOf: p[$0]) }
                }
                if let end { return (String(decoding: data, as: UTF8.self), end) }
            } catch {
                return nil
            }
            from = upTo
        }
        return (String(decoding: data, as: UTF8.self), nil)
    }

    @Test("data, extensions and trailers, fed whole or byte by byte", arguments: [1, 3, 1000])
    func bodies(step: Int) {
        let body = "4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\nNEXT"
        let result = scan(body, step: step)
        #expect(result?.data == "Wikipedia in\r\n\r\nchunks.")
        #expect(result?.end == body.utf8.count - 4)
    }

    @Test(
        "bad framing is refused",
        arguments: ["x\r\n", "\r\n", "4\r\nWikiX\r\n", "4\nWiki", "1\r\na\r\n0\r\n\u{7F}\r\n\r\n", "123456789\r\n"])
    func malformed(text: String) {
        #expect(scan(text, step: 1, maxSizeDigits: 8) == nil)
    }

    @Test("a chunk size can be refused before its bytes are read")
    func sizeLimit() throws {
        var scanner = ChunkedBodyScanner()
        let bytes = Array("10\r\n0123456789abcdef\r\n0\r\n\r\n".utf8)
        #expect(throws: ChunkedBodyScanner.Malformed.self) {
            try bytes.withUnsafeBytes { p in
                try scanner.scan(
                    p, from: 0,
                    onSize: { size throws(ChunkedBodyScanner.Malformed) in
                        if size > 8 { throw ChunkedBodyScanner.Malformed() }
                    })
            }
        }
    }
}
