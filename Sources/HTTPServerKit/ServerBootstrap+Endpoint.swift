import NIOCore
import NIOPosix
import NetworkEndpoint

#if canImport(Glibc)
    import Glibc
#endif

extension ServerBootstrap {
    /// Binds to a TCP address or a Unix socket. A Unix socket's stale file (left by a killed
    /// process) is removed first, or bind would fail; the new one is open to every user, since
    /// the peer (the gateway, the health probe) may run as another user on a shared volume.
    public func bind(to endpoint: Endpoint) async throws -> any Channel {
        switch endpoint {
        case .tcp(let host, let port):
            return try await bind(host: host, port: port).get()
        case .unix(let path):
            unlink(path)
            let channel = try await bind(unixDomainSocketPath: path).get()
            chmod(path, 0o777)
            return channel
        }
    }
}

extension Endpoint {
    /// Removes a Unix socket's file once its listener is closed.
    public func removeSocketFile() {
        if case .unix(let path) = self { unlink(path) }
    }
}
