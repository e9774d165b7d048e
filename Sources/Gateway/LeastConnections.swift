/// The candidate with the fewest requests in flight. Ties go round-robin, so that an idle
/// stack still spreads its requests instead of sending them all to the first upstream.
public struct LeastConnections: BalancingStrategy {
    private let upstreamCount: Int
    private var next = 0

    public init(upstreamCount: Int, seed: UInt64) { self.upstreamCount = upstreamCount }

    public mutating func pick<View: UpstreamLoadView>(from candidates: CandidateSet, loads: View)
        -> Int
    {
        var best = -1
        var bestLoad = Int.max
        var index = next
        for _ in 0..<upstreamCount {
            if candidates.contains(index) {
                let load = loads.inFlight(index)
                if load < bestLoad {
                    best = index
                    bestLoad = load
                }
            }
            index = index + 1 == upstreamCount ? 0 : index + 1
        }
        next = best + 1 == upstreamCount ? 0 : best + 1
        return best
    }
}
