// The mutator's PRNG: SplitMix64 seeded from libFuzzer's per-call 32-bit seed.

typealias MutatorRng = SplitMix64

extension SplitMix64 {
    /// Spreads libFuzzer's 32-bit seed over the 64-bit state.
    init(fuzzerSeed seed: UInt32) { self.init(seed: UInt64(seed) &* 0x9e37_79b9_7f4a_7c15 ^ 0x5851_f42d_4c95_7f2d) }
}

extension SplitMix64 {
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
}
