/// One RESP2 reply from Valkey.
public enum RESPValue: Sendable, Equatable {
    /// A status reply (`+OK`) or a bulk string.
    case string(String)
    case integer(Int64)
    case array([RESPValue])
    /// A nil bulk string or nil array.
    case null
    /// An error reply (`-ERR ...`), kept as a value: callers decide whether it is fatal.
    case error(String)

    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var integer: Int64? {
        switch self {
        case .integer(let i): return i
        case .string(let s): return Int64(s)
        default: return nil
        }
    }

    public var array: [RESPValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
}

/// Why a command did not get a reply.
public enum ValkeyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No connection could be had before the command's deadline: the command was never sent.
    case unavailable
    /// The connection closed after the command was written: it may or may not have run.
    case connectionLost
    /// Valkey answered with an error reply.
    case server(String)
    /// The reply did not have the expected shape.
    case unexpectedReply(String)
    /// The client was closed.
    case closed

    /// Whether the same command may well succeed a moment later: no connection, a lost reply
    /// (for a command that is safe to repeat), or a server still loading its data after a restart.
    public var isTransient: Bool {
        switch self {
        case .unavailable, .connectionLost: return true
        case .server(let message):
            return message.hasPrefix("LOADING") || message.hasPrefix("TRYAGAIN") || message.hasPrefix("BUSY")
                || message.hasPrefix("MASTERDOWN")
        case .unexpectedReply, .closed: return false
        }
    }

    public var description: String {
        switch self {
        case .unavailable: return "valkey unavailable"
        case .connectionLost: return "valkey connection lost"
        case .server(let m): return "valkey error: \(m)"
        case .unexpectedReply(let m): return "unexpected valkey reply: \(m)"
        case .closed: return "valkey client closed"
        }
    }
}
