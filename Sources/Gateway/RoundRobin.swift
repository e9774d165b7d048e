/// Each request goes to the next candidate after the previous pick, so with all upstreams in
/// service they alternate exactly.
public struct RoundRobin: BalancingStrategy {
    private let upstreamCount: Int
    private var next = 0

    public init(upstreamCount: Int, seed: UInt64) { self.upstreamCount = upstreamCount }

    public mutating func pick<View: UpstreamLoadView>(from candidates: CandidateSet, loads: View)
        -> Int
    {
        let index = candidates.first(atOrAfter: next, limit: upstreamCount)!
        next = index + 1 == upstreamCount ? 0 : index + 1
        return index
    }
}
