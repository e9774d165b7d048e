/// Where the load goes: a TCP host and port, or a Unix domain socket.
enum LoadTarget: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    /// Parses `unix:/path` (or a bare `/path`), `host:port` and `http://host:port`.
    init?(parsing text: String) {
        var text = Substring(text)
        if text.hasPrefix("unix:") {
            let path = text.dropFirst(5)
            guard !path.isEmpty else { return nil }
            self = .unix(path: String(path))
            return
        }
        if text.hasPrefix("/") {
            self = .unix(path: String(text))
            return
        }
        if text.hasPrefix("http://") { text = text.dropFirst(7) }
        while text.hasSuffix("/") { text = text.dropLast() }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port)
        else { return nil }
        let host = text[..<colon]
        self = .tcp(host: host.isEmpty ? "127.0.0.1" : String(host), port: port)
    }

    /// The `Host` header value.
    var hostHeader: String {
        switch self {
        case .tcp(let host, let port): return "\(host):\(port)"
        case .unix: return "localhost"
        }
    }

    var description: String {
        switch self {
        case .tcp(let host, let port): return "\(host):\(port)"
        case .unix(let path): return "unix:\(path)"
        }
    }
}
