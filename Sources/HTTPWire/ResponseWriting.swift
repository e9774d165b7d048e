import NIOCore
import NIOHTTP1
import TextFormats

/// The parts of an answer that the stack's HTTP code writes itself (the gateway's own answers
/// and rewritten responses, the API's server), in one style: field names in lower case, as
/// HTTP/2 and most proxies write them.
extension ByteBuffer {
    /// `HTTP/1.1 <code> <reason>` and its line end.
    public mutating func writeStatusLine(_ status: HTTPResponseStatus) {
        writeStaticString("HTTP/1.1 ")
        writeString(String(status.code))
        writeStaticString(" ")
        writeString(status.reasonPhrase)
        writeStaticString("\r\n")
    }

    /// `content-length: <length>` and its line end.
    public mutating func writeContentLength(_ length: Int) {
        writeStaticString("content-length: ")
        writeString(String(length))
        writeStaticString("\r\n")
    }

    /// The Connection header an answer needs on this hop: `close` when the connection ends after
    /// it, `keep-alive` for an HTTP/1.0 client that keeps it (HTTP/1.0 closes unless told), and
    /// none otherwise (HTTP/1.1 stays open unless told).
    public mutating func writeConnectionHeader(keepAlive: Bool, clientIsHTTP10: Bool) {
        if !keepAlive {
            writeStaticString("connection: close\r\n")
        } else if clientIsHTTP10 {
            writeStaticString("connection: keep-alive\r\n")
        }
    }

    /// Writes the data of the chunked body `p[from...]` without its framing; returns the index
    /// just past the body, or nil if `p` does not hold a whole, well-formed chunked body (what was
    /// decoded up to there is written all the same).
    @discardableResult
    public mutating func writeDechunked(_ p: UnsafeRawBufferPointer, from: Int) -> Int? {
        var scanner = ChunkedBodyScanner()
        return try? scanner.scan(p, from: from) { range in
            self.writeBytes(UnsafeRawBufferPointer(rebasing: p[range]))
        }
    }
}
