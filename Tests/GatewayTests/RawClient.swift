import TextFormats
@testable import Gateway

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking TCP client that sends exactly the bytes a test gives it, hostile ones included,
/// and reads responses with the gateway's own framer. Every read has a timeout.
final class RawClient: @unchecked Sendable {  // used by one thread at a time
    private let fd: Int32
    private var buffer: [UInt8] = []

    struct Response {
        var status: Int
        var head: String
        var body: [UInt8]

        var bodyText: String { String(decoding: body, as: UTF8.self) }

        /// The first value of header `name` (case-insensitive).
        func header(_ name: String) -> String? {
            for line in head.split(separator: "\r\n").dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                if line[..<colon].lowercased() == name.lowercased() {
                    return String(line[line.index(after: colon)...].drop(while: { $0 == " " }))
                }
            }
            return nil
        }
    }

    enum ClientError: Error { case connect, timeout, closed, badResponse }

    init(port: Int, timeoutSeconds: Int = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw ClientError.connect
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent <= 0 { return }
            offset += sent
        }
    }

    /// Reads more bytes; false when the peer closed (or reset) the connection.
    private func receiveMore() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count > 0 {
            buffer.append(contentsOf: chunk[..<count])
            return true
        }
        if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { throw ClientError.timeout }
        return false
    }

    func readResponse(requestWasHead: Bool = false) throws -> Response {
        var framer = ResponseFramer(maxResponseBytes: 64 * 1024 * 1024)
        while true {
            let outcome = buffer.withUnsafeBytes { framer.parse($0, requestWasHead: requestWasHead) }
            switch outcome {
            case .complete(let head, let length):
                let headText = String(decoding: buffer[..<head.headEnd], as: UTF8.self)
                var body: [UInt8] = []
                if head.framing == .chunked {
                    var scanner = ChunkedBodyScanner()
                    buffer.withUnsafeBytes { p in
                        _ = try? scanner.scan(p, from: head.headEnd) { body.append(contentsOf: p[$0]) }
                    }
                } else {
                    body = Array(buffer[head.headEnd..<length])
                }
                buffer.removeFirst(length)
                return Response(status: head.status, head: headText, body: body)
            case .interim(let length):
                buffer.removeFirst(length)
            case .failed:
                throw ClientError.badResponse
            case .incomplete:
                guard try receiveMore() else {
                    if case .complete(let head, let length) = buffer.withUnsafeBytes({ framer.finish($0) }) {
                        let headText = String(decoding: buffer[..<head.headEnd], as: UTF8.self)
                        let body = Array(buffer[head.headEnd..<length])
                        buffer.removeAll()
                        return Response(status: head.status, head: headText, body: body)
                    }
                    throw ClientError.closed
                }
            }
        }
    }

    /// Waits until the peer closes the connection (true) or the read timeout passes (false).
    /// Bytes that arrive meanwhile are kept.
    func waitForClose() -> Bool {
        while true {
            do {
                if try !receiveMore() { return true }
            } catch {
                return false
            }
        }
    }

    /// Sends one request and reads its answer.
    func request(_ text: String) throws -> Response {
        send(text)
        return try readResponse(requestWasHead: text.hasPrefix("HEAD "))
    }
}

/// Resident memory of this process, in bytes.
func residentMemoryBytes() -> Int {
    guard let file = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(file) }
    var size = 0
    var resident = 0
    _ = withUnsafeMutablePointer(to: &size) { s in
        withUnsafeMutablePointer(to: &resident) { r in
            withVaList([s, r]) { vfscanf(file, "%ld %ld", $0) }
        }
    }
    return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
}
