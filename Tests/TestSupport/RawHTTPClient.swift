import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking TCP client on 127.0.0.1 for checking exact bytes: what goes out is what the test
/// wrote (hostile bytes, pipelined batches, a byte at a time), what comes back is kept as
/// received, and `readResponse` frames answers independently of the code under test. Every read
/// has a timeout. Used by one thread at a time; run it off Swift's cooperative pool when the
/// server under test shares the process (see `blocking` in the live suites).
public final class RawHTTPClient: @unchecked Sendable {
    public enum Failure: Error, Sendable { case connect, timeout, closed, badResponse }

    private let fd: Int32
    private var isClosed = false
    /// The bytes received and not yet taken by `readResponse` (all of them, if it was never called).
    public private(set) var received: [UInt8] = []

    /// `received` as text.
    public var text: String { String(decoding: received, as: UTF8.self) }

    /// Connects to 127.0.0.1:`port`; every read waits at most `timeoutSeconds`.
    public init(port: Int, timeoutSeconds: Int = 5) throws(Failure) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .connect }
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
            Glibc.close(fd)
            throw .connect
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close() }

    public func send(_ text: String) { send(Array(text.utf8)) }

    /// Writes all of `bytes` (stops quietly if the peer is gone: the reads tell).
    public func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent <= 0 { return }
            offset += sent
        }
    }

    /// Half-closes: no more bytes go out, answers still come in.
    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(fd)
    }

    /// Reads more bytes; false when the peer closed (or reset) the connection.
    private func receiveMore() throws(Failure) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count > 0 {
            received.append(contentsOf: chunk[..<count])
            return true
        }
        if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { throw .timeout }
        return false
    }

    /// Reads the next whole response (1xx interim answers are skipped) and takes its bytes off
    /// `received`. A response without a length ends where the peer closes.
    public func readResponse(requestWasHead: Bool = false) throws(Failure) -> RawHTTPResponse {
        var atEnd = false
        while true {
            if let parsed = try parseResponse(received[...], requestWasHead: requestWasHead, atEnd: atEnd) {
                received.removeFirst(parsed.length)
                if (100..<200).contains(parsed.0.status) && parsed.0.status != 101 { continue }
                return parsed.0
            }
            if atEnd { throw .closed }
            atEnd = try !receiveMore()
        }
    }

    /// Sends one request and reads its answer.
    public func request(_ text: String) throws(Failure) -> RawHTTPResponse {
        send(text)
        return try readResponse(requestWasHead: text.hasPrefix("HEAD "))
    }

    /// Reads until `complete` accepts the text received so far, the peer closes, or the timeout;
    /// returns that text.
    @discardableResult
    public func read(until complete: (String) -> Bool) -> String {
        while !complete(text) {
            guard (try? receiveMore()) == true else { break }
        }
        return text
    }

    /// Waits until the peer closes the connection (true) or the read timeout passes (false).
    /// Bytes that arrive meanwhile are kept in `received`.
    public func waitForClose() -> Bool {
        while true {
            do {
                if try !receiveMore() { return true }
            } catch {
                return false
            }
        }
    }
}

/// Threads for blocking client sockets, so that they do not hold up Swift's few cooperative
/// threads (which the servers under test may need).
private let blockingPool: NIOThreadPool = {
    let pool = NIOThreadPool(numberOfThreads: 8)
    pool.start()
    return pool
}()

/// Runs blocking `body` (raw client sockets) on a thread of its own and returns its result.
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await blockingPool.runIfActive(body)
}
