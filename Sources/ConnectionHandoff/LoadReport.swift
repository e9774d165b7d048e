/// What an API tells the gateway back over a handoff link: how many of the connections it was
/// handed are still open, as a 4-byte big-endian count, sent whenever one closes. An absolute
/// count rather than a "one closed" tick, so that a restarted gateway (which never counted the
/// connections its predecessor handed over) is right again after the next report.
public enum LoadReport {
    public static let size = 4

    public static func encode(openConnections: Int) -> [UInt8] {
        let value = UInt32(clamping: openConnections)
        return [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}

/// Reassembles reports from a stream's reads, which may split or join them.
public struct LoadReportDecoder: Sendable {
    private var partial: [UInt8] = []

    public init() {}

    /// Feeds the bytes of one read; returns the newest complete report in them, if any.
    public mutating func feed<Bytes: Collection>(_ bytes: Bytes) -> Int? where Bytes.Element == UInt8 {
        var latest: Int?
        for byte in bytes {
            partial.append(byte)
            if partial.count == LoadReport.size {
                latest = partial.reduce(0) { $0 << 8 | Int($1) }
                partial.removeAll(keepingCapacity: true)
            }
        }
        return latest
    }
}
