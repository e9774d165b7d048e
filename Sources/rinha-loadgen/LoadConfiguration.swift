import NetworkEndpoint

/// One load run: where to send, how fast, for how long. Times in seconds, rates in requests per
/// second. The run lasts `warmup + duration`; only requests scheduled after the warmup count.
struct LoadConfiguration: Sendable {
    var target: Endpoint
    /// Requests per second over the whole run, split evenly over the threads.
    var rate: Double
    /// Measured seconds, after the warmup.
    var duration: Double
    /// Seconds at the start whose requests are sent but left out of every statistic.
    var warmup: Double = 0
    /// Keep-alive connections open at most, over all threads (each thread gets its share).
    var connections: Int = 64
    /// Event loop threads, each with its own connections and its share of the rate.
    var threads: Int = 1
    var method: String = "POST"
    var path: String = "/payments"
    /// Request body; every `{uuid}` is replaced by a fresh random UUID per request. Empty: no body.
    var bodyTemplate: String = #"{"correlationId":"{uuid}","amount":19.90}"#
    /// Seconds a sent request may wait for its answer before its connection is closed and it
    /// counts as a timeout; also how long the end of the run waits for late answers.
    var timeout: Double = 5
    /// Latency samples kept at most (a uniform reservoir beyond); the maximum is always exact.
    var maxSamples: Int = 10_000_000

    /// Requests of the whole run, warmup included.
    var totalRequests: Int { Int((rate * (warmup + duration)).rounded()) }
}
