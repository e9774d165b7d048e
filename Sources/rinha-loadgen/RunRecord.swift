/// What one thread saw, for the requests due after the warmup. Latencies are nanoseconds from a
/// request's due time (not its send time) to the end of its answer, so time spent waiting for a
/// free connection counts. Up to `maxSamples` latencies are kept exactly; beyond that a uniform
/// reservoir (algorithm R) stands in for them, and `maxNanos` stays exact. Each sample's service
/// time (from the write of the request to the end of its answer: the server's share, without
/// waits on our side) is kept alongside, in the same slot.
struct RunRecord: Sendable {
    enum Failure: String, Sendable, CaseIterable {
        /// Could not connect, and no other connection was left to serve the request.
        case connect
        /// No answer within the timeout: the connection was closed.
        case timeout
        /// The connection closed (or failed) while the request was out.
        case closed
        /// Still waiting, or never sent, when the run ended.
        case unfinished
    }

    /// Requests due in the measured window.
    var scheduled = 0
    /// Requests due during the warmup (sent, left out of everything else).
    var warmupRequests = 0
    /// Measured requests that got a whole answer.
    var completed = 0
    /// Answers (of any request) that ended inside the measured window: the achieved rate.
    var completedInWindow = 0
    /// Answers per status code (index = code, 0...599).
    var statusCounts = [Int](repeating: 0, count: 600)
    var failures: [Failure: Int] = [:]
    var connectionsOpened = 0
    var samples: [Int64] = []
    var serviceSamples: [Int64] = []
    var maxNanos: Int64 = 0
    var maxServiceNanos: Int64 = 0
    /// The largest latency of the requests due in each measured second.
    var maxBySecond: [Int64] = []
    let maxSamples: Int
    private var rng: UInt64 = 0x9E37_79B9_7F4A_7C15

    init(maxSamples: Int, expected: Int) {
        self.maxSamples = max(1, maxSamples)
        samples.reserveCapacity(min(self.maxSamples, max(0, expected)))
        serviceSamples.reserveCapacity(min(self.maxSamples, max(0, expected)))
    }

    var failureCount: Int { failures.values.reduce(0, +) }

    mutating func fail(_ failure: Failure) { failures[failure, default: 0] += 1 }

    /// One answer: `second` is the measured second its request was due in.
    mutating func answered(status: Int, latencyNanos: Int64, serviceNanos: Int64, second: Int) {
        completed += 1
        statusCounts[min(max(status, 0), 599)] += 1
        maxNanos = max(maxNanos, latencyNanos)
        maxServiceNanos = max(maxServiceNanos, serviceNanos)
        if second >= 0 {
            if second >= maxBySecond.count {
                maxBySecond += repeatElement(0, count: second + 1 - maxBySecond.count)
            }
            maxBySecond[second] = max(maxBySecond[second], latencyNanos)
        }
        if samples.count < maxSamples {
            samples.append(latencyNanos)
            serviceSamples.append(serviceNanos)
        } else {
            rng ^= rng << 13
            rng ^= rng >> 7
            rng ^= rng << 17
            let slot = Int(rng % UInt64(completed))
            if slot < maxSamples {
                samples[slot] = latencyNanos
                serviceSamples[slot] = serviceNanos
            }
        }
    }

    /// Adds another thread's record (its samples weigh as many as ours: fine while both keep all).
    mutating func merge(_ other: RunRecord) {
        scheduled += other.scheduled
        warmupRequests += other.warmupRequests
        completed += other.completed
        completedInWindow += other.completedInWindow
        for i in statusCounts.indices { statusCounts[i] += other.statusCounts[i] }
        for (k, v) in other.failures { failures[k, default: 0] += v }
        connectionsOpened += other.connectionsOpened
        samples += other.samples
        serviceSamples += other.serviceSamples
        maxNanos = max(maxNanos, other.maxNanos)
        maxServiceNanos = max(maxServiceNanos, other.maxServiceNanos)
        if other.maxBySecond.count > maxBySecond.count {
            maxBySecond += repeatElement(0, count: other.maxBySecond.count - maxBySecond.count)
        }
        for (i, v) in other.maxBySecond.enumerated() { maxBySecond[i] = max(maxBySecond[i], v) }
    }
}
