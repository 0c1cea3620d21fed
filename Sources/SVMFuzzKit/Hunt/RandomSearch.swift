// A libFuzzer-free random search: random byte strings, decoded and run exactly as the libFuzzer target
// does (FuzzHarness.run), until a violation or until the caller says stop. Deterministic for a seed:
// the clock lives in the caller's `shouldStop`, never here.

import SVMModel

public struct RandomSearch: Sendable {
    /// What a search found: the first violation and the input that shows it.
    public struct Finding: Sendable {
        public var violation: Violation
        public var input: [UInt8]
        /// 1-based index of the execution that found it.
        public var execution: Int
    }

    public struct Result: Sendable {
        /// Inputs run, the finding's included.
        public var executions: Int
        public var finding: Finding?
    }

    public private(set) var harness: FuzzHarness
    public let seed: UInt64
    /// Inputs are 0...maxLength bytes long, each length equally likely.
    public let maxLength: Int
    /// How many executions pass between two calls of `shouldStop`.
    public static let stopCheckInterval = 256

    private var rng: SplitMix64
    private var buffer: [UInt8]

    public init(variant: Variant, fixes: FixDelta? = nil, seed: UInt64, maxLength: Int = 64) {
        precondition(maxLength >= 0, "maxLength must not be negative")
        harness = FuzzHarness(variant: variant, fixes: fixes)
        self.seed = seed
        self.maxLength = maxLength
        rng = SplitMix64(seed: seed)
        buffer = []
        buffer.reserveCapacity(maxLength)
    }

    /// The next random input (advances the generator).
    public mutating func nextInput() -> [UInt8] {
        let length = Int(rng.next() % UInt64(maxLength + 1))
        buffer.removeAll(keepingCapacity: true)
        var word: UInt64 = 0
        for i in 0..<length {
            if i % 8 == 0 { word = rng.next() }
            buffer.append(UInt8(truncatingIfNeeded: word >> (8 * UInt64(i % 8))))
        }
        return buffer
    }

    /// Runs random inputs until one shows a violation, `maxRuns` inputs ran (nil: no limit), or
    /// `shouldStop(executions so far)` returns true; it is asked before the first input and then every
    /// `stopCheckInterval` inputs.
    public mutating func run(maxRuns: Int? = nil, shouldStop: (Int) -> Bool = { _ in false }) -> Result {
        var executions = 0
        while maxRuns.map({ executions < $0 }) ?? true {
            if executions % RandomSearch.stopCheckInterval == 0 && shouldStop(executions) { break }
            let input = nextInput()
            executions += 1
            let found = input.withUnsafeBytes { harness.run($0) }
            if let v = found {
                return Result(executions: executions, finding: Finding(violation: v, input: input, execution: executions))
            }
        }
        return Result(executions: executions, finding: nil)
    }
}
