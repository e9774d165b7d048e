/// A uniformly random candidate.
public struct RandomChoice: BalancingStrategy {
    private var random: SplitMix64

    public init(upstreamCount: Int, seed: UInt64) { random = SplitMix64(seed: seed) }

    public mutating func pick<View: UpstreamLoadView>(from candidates: CandidateSet, loads: View)
        -> Int
    {
        candidates.member(random.below(candidates.count))
    }
}
