import Testing

@testable import Gateway

/// Loads given as plain numbers, so strategies are tested without any connection.
struct FixedLoads: UpstreamLoadView {
    var loads: [Int]
    var count: Int { loads.count }
    func inFlight(_ index: Int) -> Int { loads[index] }
}

@Suite("Balancing strategies, as pure functions")
struct StrategyTests {
    let all2 = CandidateSet(allOf: 2)

    @Test("round-robin alternates exactly")
    func roundRobinAlternates() {
        var strategy = RoundRobin(upstreamCount: 2, seed: 1)
        let picks = (0..<8).map { _ in strategy.pick(from: all2, loads: FixedLoads(loads: [5, 0])) }
        #expect(picks == [0, 1, 0, 1, 0, 1, 0, 1])
    }

    @Test("round-robin skips an upstream that is out of service and resumes the cycle")
    func roundRobinSkips() {
        var strategy = RoundRobin(upstreamCount: 3, seed: 1)
        let loads = FixedLoads(loads: [0, 0, 0])
        var without1 = CandidateSet(allOf: 3)
        without1.remove(1)
        #expect(strategy.pick(from: CandidateSet(allOf: 3), loads: loads) == 0)
        #expect(strategy.pick(from: without1, loads: loads) == 2)
        #expect(strategy.pick(from: without1, loads: loads) == 0)
        #expect(strategy.pick(from: CandidateSet(allOf: 3), loads: loads) == 1)
    }

    @Test("least-connections takes the upstream with fewest requests in flight")
    func leastConnectionsSteers() {
        var strategy = LeastConnections(upstreamCount: 2, seed: 1)
        for _ in 0..<10 { #expect(strategy.pick(from: all2, loads: FixedLoads(loads: [3, 1])) == 1) }
        for _ in 0..<10 { #expect(strategy.pick(from: all2, loads: FixedLoads(loads: [0, 1])) == 0) }
    }

    @Test("least-connections spreads ties round-robin")
    func leastConnectionsTies() {
        var strategy = LeastConnections(upstreamCount: 2, seed: 1)
        let picks = (0..<6).map { _ in strategy.pick(from: all2, loads: FixedLoads(loads: [0, 0])) }
        #expect(picks == [0, 1, 0, 1, 0, 1])
    }

    @Test("power-of-two never picks the busier of two upstreams")
    func powerOfTwoSteers() {
        var strategy = PowerOfTwoChoices(upstreamCount: 2, seed: 42)
        for _ in 0..<100 { #expect(strategy.pick(from: all2, loads: FixedLoads(loads: [7, 2])) == 1) }
    }

    @Test("power-of-two avoids the busiest of many upstreams")
    func powerOfTwoMany() {
        var strategy = PowerOfTwoChoices(upstreamCount: 4, seed: 7)
        var counts = [0, 0, 0, 0]
        for _ in 0..<4000 {
            counts[
                strategy.pick(from: CandidateSet(allOf: 4), loads: FixedLoads(loads: [100, 0, 0, 0]))] += 1
        }
        #expect(counts[0] == 0)
        for index in 1..<4 { #expect(counts[index] > 1000) }
    }

    @Test("random spreads evenly and only over candidates")
    func randomSpreads() {
        var strategy = RandomChoice(upstreamCount: 3, seed: 9)
        var only02 = CandidateSet(allOf: 3)
        only02.remove(1)
        var counts = [0, 0, 0]
        for _ in 0..<3000 {
            counts[strategy.pick(from: only02, loads: FixedLoads(loads: [0, 0, 0]))] += 1
        }
        #expect(counts[1] == 0)
        #expect(counts[0] > 1300 && counts[2] > 1300)
    }

    @Test("least-latency prefers the faster upstream and notices a slow answer at once")
    func leastLatency() {
        var strategy = LeastLatency(upstreamCount: 2, seed: 1)
        let idle = FixedLoads(loads: [0, 0])
        strategy.observe(upstream: 0, latencyNanoseconds: 1_000_000)
        strategy.observe(upstream: 1, latencyNanoseconds: 200_000)
        for _ in 0..<5 { #expect(strategy.pick(from: all2, loads: idle) == 1) }
        strategy.observe(upstream: 1, latencyNanoseconds: 50_000_000)
        #expect(strategy.pick(from: all2, loads: idle) == 0)
        // Load counts too: the fast upstream with many requests waiting loses to the slow idle one.
        strategy.observe(upstream: 1, latencyNanoseconds: 0)
        for _ in 0..<100 { strategy.observe(upstream: 1, latencyNanoseconds: 500_000) }
        #expect(strategy.pick(from: all2, loads: FixedLoads(loads: [0, 0])) == 1)
        #expect(strategy.pick(from: all2, loads: FixedLoads(loads: [0, 5])) == 0)
    }

    @Test("an upstream never measured is tried before measured ones")
    func leastLatencyTriesUnknown() {
        var strategy = LeastLatency(upstreamCount: 2, seed: 1)
        strategy.observe(upstream: 0, latencyNanoseconds: 100)
        #expect(strategy.pick(from: all2, loads: FixedLoads(loads: [0, 0])) == 1)
    }

    @Test("candidate sets find members in order and wrap around")
    func candidateSet() {
        let set = CandidateSet(bits: 0b1010)
        #expect(set.count == 2)
        #expect(set.member(0) == 1 && set.member(1) == 3)
        #expect(set.first(atOrAfter: 2, limit: 4) == 3)
        #expect(set.first(atOrAfter: 0, limit: 4) == 1)
        #expect(CandidateSet(bits: 0b0001).first(atOrAfter: 3, limit: 4) == 0)
        #expect(CandidateSet(allOf: 64).count == 64)
    }

    @Test("every strategy name resolves to a type that picks a candidate")
    func everyKindResolves() {
        for kind in BalancingStrategyKind.allCases {
            func check<S: BalancingStrategy>(_ type: S.Type) -> Int {
                var strategy = S(upstreamCount: 2, seed: 3)
                return strategy.pick(from: CandidateSet(bits: 0b10), loads: FixedLoads(loads: [0, 0]))
            }
            #expect(check(kind.strategyType) == 1, "\(kind)")
        }
    }
}
