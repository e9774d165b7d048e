/// Where a server listens: a TCP host and port, or a Unix domain socket path.
public enum BindTarget: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    /// Parses `unix:/path`, `/path` (a Unix socket) or `host:port` / `:port` (TCP).
    public init?(parsing text: String) {
        if text.hasPrefix("unix:") {
            self = .unix(path: String(text.dropFirst(5)))
        } else if text.hasPrefix("/") || text.hasPrefix("./") {
            self = .unix(path: text)
        } else if let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        {
            let host = String(text[..<colon])
            self = .tcp(host: host.isEmpty ? "0.0.0.0" : host, port: port)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): return "\(host):\(port)"
        case .unix(let path): return "unix:\(path)"
        }
    }
}
