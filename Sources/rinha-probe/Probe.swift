import NetworkEndpoint

#if canImport(Glibc)
    import Glibc
#endif

/// `rinha-probe TARGET PATH`: exits 0 when `GET PATH` on TARGET (`unix:/path.sock` or
/// `host:port`, IPv4) answers 2xx within a second, 1 otherwise. The local stack's readiness
/// checks use it, and the image keeps it for a check by hand (`docker exec`): the runtime image
/// has no curl, and this needs nothing but libc. compose.yaml runs no health checks (README).
@main
enum Probe {
    static func main() {
        let args = CommandLine.arguments
        guard args.count == 3 else {
            print("usage: rinha-probe unix:/path.sock|host:port /path")
            exit(2)
        }
        exit(probe(target: args[1], path: args[2]) ? 0 : 1)
    }

    static func probe(target: String, path: String) -> Bool {
        let fd: Int32
        switch Endpoint(parsing: target)?.connectable {
        case .unix(let path):
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return false }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let socketPath = Array(path.utf8)
            guard socketPath.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, b) in socketPath.enumerated() { raw[i] = b }
            }
            setTimeouts(fd)
            let ok = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
                }
            }
            guard ok else { return false }
        case .tcp(let host, let port):
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return false }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return false }
            setTimeouts(fd)
            let ok = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            guard ok else { return false }
        case nil:
            return false
        }
        defer { close(fd) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
        guard write(fd, request, request.count) == request.count else { return false }
        var buffer = [UInt8](repeating: 0, count: 64)
        var filled = 0
        while filled < 12 {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, 64 - filled) }
            if n <= 0 { break }
            filled += n
        }
        // "HTTP/1.1 2xx"
        return filled >= 12 && buffer[9] == UInt8(ascii: "2")
    }

    static func setTimeouts(_ fd: Int32) {
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }
}
