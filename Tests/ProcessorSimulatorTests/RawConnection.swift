#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

struct RawConnectionError: Error {}

/// A bare TCP client for checking exact bytes: what goes out is what the test wrote, what comes
/// back is everything the server sent. Blocking, with a 5 s read timeout.
final class RawConnection {
    private let fd: Int32
    private var closed = false
    private(set) var received: [UInt8] = []

    init(port: Int) throws {
        #if canImport(Glibc)
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw RawConnectionError() }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            Self.closeSocket(fd)
            throw RawConnectionError()
        }
    }

    deinit { close() }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                #if canImport(Glibc)
                    let sent = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                #else
                    let sent = Darwin.send(fd, raw.baseAddress! + offset, raw.count - offset, 0)
                #endif
                if sent <= 0 { return }
                offset += sent
            }
        }
    }

    /// Reads until `complete` accepts the text received so far, the peer closes, or the timeout.
    /// Returns the text received (all of it, since the connection opened).
    @discardableResult
    func read(until complete: (String) -> Bool) -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !complete(text) {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            received += buffer[0..<count]
        }
        return text
    }

    /// Reads until the peer closes (or the timeout); true if it closed.
    func readUntilClosed() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { return true }
            if count < 0 { return false }
            received += buffer[0..<count]
        }
    }

    var text: String { String(decoding: received, as: UTF8.self) }

    func close() {
        guard !closed else { return }
        closed = true
        Self.closeSocket(fd)
    }

    private static func closeSocket(_ fd: Int32) {
        #if canImport(Glibc)
            _ = Glibc.close(fd)
        #else
            _ = Darwin.close(fd)
        #endif
    }
}

/// True once `text` holds `count` whole HTTP/1.1 responses (chunked or with a Content-Length).
func holdsResponses(_ text: String, count: Int) -> Bool {
    var rest = Substring(text)
    for _ in 0..<count {
        guard let headEnd = rest.firstRange(of: "\r\n\r\n") else { return false }
        let head = rest[..<headEnd.lowerBound]
        rest = rest[headEnd.upperBound...]
        if head.contains("Transfer-Encoding: chunked") {
            guard let end = rest.firstRange(of: "\r\n0\r\n\r\n") else { return false }
            rest = rest[end.upperBound...]
        } else {
            let length =
                head.split(separator: "\r\n").first { $0.hasPrefix("Content-Length: ") }
                .flatMap { Int($0.dropFirst("Content-Length: ".count)) } ?? 0
            guard rest.utf8.count >= length else { return false }
            rest = rest[rest.utf8.index(rest.startIndex, offsetBy: length)...]
        }
    }
    return true
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
