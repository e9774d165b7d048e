/// "Peak EWMA", as in Finagle and Linkerd (nginx Plus calls its kin `least_time`): each upstream's
/// answer time is smoothed exponentially, and the pick is the lowest `ewma * (inFlight + 1)`, so a
/// slow upstream and a busy one both lose traffic. A latency above the average replaces it at
/// once (peak-sensitive), so a stall is noticed on the first slow answer; lower samples pull it
/// back down by a fixed weight each. Upstreams never measured score zero, so they get tried.
public struct LeastLatency: BalancingStrategy {
    /// Smoothed latency per upstream, in nanoseconds.
    private var ewma: [Double]
    private var next = 0
    private let upstreamCount: Int
    /// Weight of a sample below the average; per sample rather than per unit of time, which
    /// keeps `observe` free of clocks and so testable as pure logic.
    private let sampleWeight: Double

    public init(upstreamCount: Int, seed: UInt64) {
        self.upstreamCount = upstreamCount
        ewma = Array(repeating: 0, count: upstreamCount)
        sampleWeight = 0.1
    }

    public mutating func pick<View: UpstreamLoadView>(from candidates: CandidateSet, loads: View)
        -> Int
    {
        var best = -1
        var bestScore = Double.infinity
        var index = next
        for _ in 0..<upstreamCount {
            if candidates.contains(index) {
                let score = ewma[index] * Double(loads.inFlight(index) + 1)
                if score < bestScore {
                    best = index
                    bestScore = score
                }
            }
            index = index + 1 == upstreamCount ? 0 : index + 1
        }
        next = best + 1 == upstreamCount ? 0 : best + 1
        return best
    }

    public mutating func observe(upstream index: Int, latencyNanoseconds: Int64) {
        let sample = Double(latencyNanoseconds)
        let old = ewma[index]
        ewma[index] = sample > old ? sample : old + (sample - old) * sampleWeight
    }
}
