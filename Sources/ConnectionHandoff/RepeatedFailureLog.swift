import Logging

#if canImport(Glibc)
    import Glibc
#endif

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

extension HandoffSocket {
    /// Accepts connections on `listener` until it is shut down (`wake`), handing each to `body`,
    /// which returns false to stop early. A connection reset before it was accepted passes; any
    /// other failure (out of descriptors, say) is retried every 10 ms and logged at most once a
    /// second. Both ends of the handoff accept this way: the gateway its clients, an API its links.
    public static func acceptUntilShutDown(_ listener: CInt, logger: Logger, _ body: (CInt) -> Bool) {
        var failures = RepeatedFailureLog()
        while true {
            let accepted: CInt
            do {
                accepted = try accept(listener)
                failures.reset()
            } catch let error as HandoffSocketError where error.code == EINVAL {
                return
            } catch let error as HandoffSocketError where error.code == ECONNABORTED {
                continue
            } catch {
                if let leftOut = failures.record(at: .now) {
                    logger.warning("accept failed", metadata: ["error": "\(error)", "not_logged": "\(leftOut)"])
                }
                usleep(10_000)
                continue
            }
            guard body(accepted) else { return }
        }
    }
}
