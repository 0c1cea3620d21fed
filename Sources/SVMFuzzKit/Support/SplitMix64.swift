// The one PRNG of the project: deterministic, seedable, allocation-free. Used by the mutator (seeded
// by libFuzzer), the random search and the property tests; never inside an execution.

/// SplitMix64 (Steele, Lea, Flood: "Fast splittable pseudorandom number generators", 2014).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

extension SplitMix64 {
    /// Uniform in 0..<n (0 when n <= 0).
    @inline(__always) public mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }

    /// True one time in `oneIn`.
    @inline(__always) public mutating func chance(_ oneIn: Int) -> Bool { below(oneIn) == 0 }
}
