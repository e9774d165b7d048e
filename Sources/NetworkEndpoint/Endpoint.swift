/// Where a process listens or connects: a TCP host and port, or a Unix domain socket path.
/// The one address type of the stack: every `--listen`, `--valkey`, `--upstream`, `--admin` and
/// load target is parsed here, so every flag accepts the same spellings.
public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    /// Parses `unix:/path`, `/path` or `./path` (a Unix socket), `host:port` or `:port` (TCP; an
    /// empty host is `defaultHost`), and a bare `host` when there is a `defaultPort`. A leading
    /// `scheme://` (`http`, `redis`, `valkey`) and trailing slashes are ignored, so a URL's
    /// authority works as well.
    public init?(parsing text: String, defaultHost: String = "0.0.0.0", defaultPort: Int? = nil) {
        var rest = Substring(text)
        if let scheme = rest.firstRange(of: "://") { rest = rest[scheme.upperBound...] }
        if rest.hasPrefix("unix:") {
            let path = rest.dropFirst(5)
            guard !path.isEmpty else { return nil }
            self = .unix(path: String(path))
            return
        }
        if rest.hasPrefix("/") || rest.hasPrefix("./") {
            self = .unix(path: String(rest))
            return
        }
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        if let colon = rest.lastIndex(of: ":") {
            guard let port = Int(rest[rest.index(after: colon)...]), (0...65535).contains(port) else { return nil }
            let host = rest[..<colon]
            self = .tcp(host: host.isEmpty ? defaultHost : String(host), port: port)
        } else if let defaultPort, !rest.isEmpty {
            self = .tcp(host: String(rest), port: defaultPort)
        } else {
            return nil
        }
    }

    /// `host:port` or `unix:/path`: what `init(parsing:)` reads back.
    public var description: String {
        switch self {
        case .tcp(let host, let port): return "\(host):\(port)"
        case .unix(let path): return "unix:\(path)"
        }
    }

    /// The `Host` header a client sends to it.
    public var hostHeader: String {
        switch self {
        case .tcp(let host, let port): return "\(host):\(port)"
        case .unix: return "localhost"
        }
    }

    /// The address to connect to when this endpoint is where a server listens: a server bound to
    /// every interface (`0.0.0.0`, `::`) or to `localhost` is reached on the loopback address.
    public var connectable: Endpoint {
        switch self {
        case .tcp(let host, let port) where ["", "0.0.0.0", "::", "localhost"].contains(host):
            return .tcp(host: "127.0.0.1", port: port)
        default:
            return self
        }
    }
}
