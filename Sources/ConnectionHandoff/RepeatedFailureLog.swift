/// Keeps a failure that comes back on every retry (out of descriptors, say) from writing a log
/// line per retry: the first is logged, then at most one per `interval`, with how many were left
/// out in between.
public struct RepeatedFailureLog: Sendable {
    private let interval: Duration
    private var lastLogged: ContinuousClock.Instant?
    private var leftOut = 0

    public init(interval: Duration = .seconds(1)) { self.interval = interval }

    /// A failure at `now`: nil to stay quiet, else how many failures were not logged before it.
    public mutating func record(at now: ContinuousClock.Instant) -> Int? {
        if let last = lastLogged, last.duration(to: now) < interval {
            leftOut += 1
            return nil
        }
        defer {
            lastLogged = now
            leftOut = 0
        }
        return leftOut
    }

    /// After a success: the next failure is news again.
    public mutating func reset() {
        lastLogged = nil
        leftOut = 0
    }
}
