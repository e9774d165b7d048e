/// Two distinct random candidates; the one with fewer requests in flight wins (ties: the first
/// drawn). Nearly as good as least-connections at steering away from a stalled upstream, without
/// the herding that an exact minimum causes when several balancers share stale loads.
public struct PowerOfTwoChoices: BalancingStrategy {
    private var random: SplitMix64

    public init(upstreamCount: Int, seed: UInt64) { random = SplitMix64(seed: seed) }

    public mutating func pick<View: UpstreamLoadView>(from candidates: CandidateSet, loads: View)
        -> Int
    {
        let count = candidates.count
        if count == 1 { return candidates.member(0) }
        let first = random.below(count)
        var second = random.below(count - 1)
        if second >= first { second += 1 }
        let a = candidates.member(first)
        let b = candidates.member(second)
        return loads.inFlight(b) < loads.inFlight(a) ? b : a
    }
}
