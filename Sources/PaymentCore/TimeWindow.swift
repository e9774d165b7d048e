import TextFormats

/// An inclusive window of epoch milliseconds; a nil bound is unbounded.
public struct TimeWindow: Sendable, Equatable {
    public var from: Int64?
    public var to: Int64?

    public init(from: Int64? = nil, to: Int64? = nil) {
        self.from = from
        self.to = to
    }

    public func contains(_ ms: Int64) -> Bool {
        (from.map { ms >= $0 } ?? true) && (to.map { ms <= $0 } ?? true)
    }

    /// Reads `from` and `to` of a summary's query string as an inclusive window. A missing or
    /// empty bound is unbounded; other parameters are ignored.
    public init<S: StringProtocol>(query: S?) throws(InvalidInput) {
        self.init()
        guard let query else { return }
        guard let pairs = QueryString.parse(query) else { throw InvalidInput(message: "malformed query string") }
        for (key, value) in pairs where key == "from" || key == "to" {
            if value.isEmpty { continue }
            guard let ms = Timestamp.parseMillis(value) else {
                throw InvalidInput(message: "\(key) must be an ISO-8601 timestamp")
            }
            if key == "from" { from = ms } else { to = ms }
        }
    }
}
