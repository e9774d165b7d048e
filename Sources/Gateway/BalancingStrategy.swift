/// A set of upstream indices (0..<64) a strategy may choose from: the upstreams that are in
/// service and not yet tried for this request. A bit mask, so building one costs nothing.
public struct CandidateSet: Equatable, Sendable {
    public var bits: UInt64

    public init(bits: UInt64) { self.bits = bits }

    /// All of `0..<count`.
    public init(allOf count: Int) {
        precondition(count >= 0 && count <= 64, "at most 64 upstreams")
        bits = count == 64 ? .max : (UInt64(1) << UInt64(count)) &- 1
    }

    public var isEmpty: Bool { bits == 0 }
    public var count: Int { bits.nonzeroBitCount }
    public func contains(_ index: Int) -> Bool { bits & (1 << UInt64(index)) != 0 }
    public mutating func remove(_ index: Int) { bits &= ~(1 << UInt64(index)) }

    /// The first member at or after `start`, wrapping around below `limit`; nil when empty.
    public func first(atOrAfter start: Int, limit: Int) -> Int? {
        guard bits != 0 else { return nil }
        let start = start % limit
        let high = bits & ~((UInt64(1) << UInt64(start)) &- 1)
        return high != 0 ? high.trailingZeroBitCount : bits.trailingZeroBitCount
    }

    /// The `n`-th member (0-based) in increasing order; `n` must be below `count`.
    public func member(_ n: Int) -> Int {
        var rest = bits
        for _ in 0..<n { rest &= rest &- 1 }
        return rest.trailingZeroBitCount
    }
}

/// What a strategy may read about the upstreams when it picks one.
public protocol UpstreamLoadView {
    /// Number of upstreams; indices are `0..<count`.
    var count: Int { get }
    /// Requests sent to upstream `index` and not yet answered.
    func inFlight(_ index: Int) -> Int
}

/// A load-balancing algorithm: a small "next index" function over the candidates, in the
/// manner of Pingora's `SelectionAlgorithm`. One instance lives on each event loop and is only
/// used there, so it needs no locking. The hot path is generic over the conforming type.
public protocol BalancingStrategy: SendableMetatype {
    init(upstreamCount: Int, seed: UInt64)

    /// The upstream to send the next request to, among `candidates` (never empty).
    mutating func pick<View: UpstreamLoadView>(from candidates: CandidateSet, loads: View) -> Int

    /// Called when upstream `index` answered a request after `nanoseconds`.
    mutating func observe(upstream index: Int, latencyNanoseconds: Int64)
}

extension BalancingStrategy {
    public mutating func observe(upstream index: Int, latencyNanoseconds: Int64) {}
}

/// SplitMix64: a tiny, fast, seedable generator; picks need spread, not cryptographic quality.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<bound` (bound > 0), by Lemire's multiply-shift; the tiny bias is harmless here.
    public mutating func below(_ bound: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }
}
