/// When each request of one thread is due, in nanoseconds after the common start. Request `g`
/// of the whole run is due at `g / rate`; thread `k` of `n` sends the `g` with `g % n == k`, so
/// the threads interleave into one even stream. Pure arithmetic: every due time is computed
/// from the start, so a late tick never shifts the ones after it (no drift, no omission).
struct ArrivalPlan: Sendable {
    let rate: Double
    let thread: Int
    let threads: Int
    /// Requests this thread sends.
    let count: Int
    /// Due times before this one are warmup.
    let warmupNanos: Int64
    /// Due time of the end of the run.
    let endNanos: Int64

    init(configuration c: LoadConfiguration, thread: Int) {
        rate = c.rate
        self.thread = thread
        threads = c.threads
        let total = c.totalRequests
        count = total > thread ? (total - thread + c.threads - 1) / c.threads : 0
        warmupNanos = Int64(c.warmup * 1e9)
        endNanos = Int64((c.warmup + c.duration) * 1e9)
    }

    /// Due time of this thread's `i`-th request.
    func dueNanos(_ i: Int) -> Int64 {
        let g = i * threads + thread
        return Int64((Double(g) * 1e9 / rate).rounded())
    }

    func isMeasured(dueNanos: Int64) -> Bool { dueNanos >= warmupNanos }
}
