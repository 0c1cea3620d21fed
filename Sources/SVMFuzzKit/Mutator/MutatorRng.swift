// The mutator's deterministic PRNG (SplitMix64), seeded by libFuzzer's per-call seed.

struct MutatorRng {
    private var state: UInt64

    init(seed: UInt32) { state = UInt64(seed) &* 0x9e37_79b9_7f4a_7c15 ^ 0x5851_f42d_4c95_7f2d }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<n (n > 0).
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    mutating func chance(_ oneIn: Int) -> Bool { below(oneIn) == 0 }

    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
}
