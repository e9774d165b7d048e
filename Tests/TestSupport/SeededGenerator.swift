import Gateway

/// A small deterministic generator, so that a failing property test fails the same way on every
/// run (the seed is in the test): the gateway's own SplitMix64, under the name the suites use.
public typealias SeededGenerator = SplitMix64
