// What the libFuzzer entry point runs: bytes → operations → executor, stopping at the first violation.

import Foundation
import SVMModel

public struct FuzzHarness: Sendable {
    public let variant: Variant
    /// A change to the variant's fix set (`--fixes`); inputs carry none of their own.
    public let fixes: FixDelta?
    /// Signatures of known findings (corpus/known-issues.txt): an input that reaches one is
    /// abandoned there instead of being reported, so a campaign goes on looking for new ones.
    public let known: [ViolationPattern]

    /// The executor every input runs on, restarted in place for each (created anew only when an
    /// input's configuration differs from the previous one's).
    private var executor: Executor
    /// The migration check's memo, shared by every executor this harness creates (and by copies of
    /// the harness: run copies on one thread at a time).
    private let migrationMemo: MigrationMemo?

    /// `memoizesMigration`: remember the states the migration check passed (MigrationMemo.swift;
    /// false only to show that the memo changes no result).
    public init(variant: Variant, fixes: FixDelta? = nil, known: [ViolationPattern] = [], memoizesMigration: Bool = true) {
        self.variant = variant
        self.fixes = fixes
        self.known = known
        migrationMemo = memoizesMigration ? MigrationMemo() : nil
        executor = Executor(config: ProgramConfig().vcpuConfig(variant: variant, fixes: fixes))
        executor.quiet = true
        executor.migrationMemo = migrationMemo
    }

    /// How many returns to userspace the migration memo answered, and how many it did not.
    public var migrationMemoCounts: (hits: Int, misses: Int) { (migrationMemo?.hits ?? 0, migrationMemo?.misses ?? 0) }

    /// The signatures of a known-issues file (KnownIssues.swift; errors name `file:line`).
    public static func parseKnownIssues(_ text: String, file: String = "known-issues") throws -> [ViolationPattern] {
        try KnownIssues.parse(text, file: file).map(\.pattern)
    }

    /// Whether a step's violation is a known issue (matched on the record's code: no message built).
    public func isKnown(_ v: ViolationCode) -> Bool {
        known.contains { $0.matches(v) }
    }

    /// The variant named by SVMFUZZ_VARIANT (default `merged`); nil when the name is unknown.
    public static func variant(fromEnvironmentValue value: String?) -> Variant? {
        guard let value, !value.isEmpty else { return .default }
        return Variant(rawValue: value)
    }

    /// Decodes and runs one input; returns the first violation. Operations are decoded one at a
    /// time and the run stops at the violation, so nothing after it is even decoded.
    public mutating func run(_ bytes: UnsafeRawBufferPointer) -> Violation? {
        var decoder = OperationDecoder(bytes)
        let config = decoder.config.vcpuConfig(variant: variant, fixes: fixes)
        if config == executor.vcpu.config {
            executor.restart()
        } else {
            executor = Executor(config: config)
            executor.quiet = true
            executor.migrationMemo = migrationMemo
        }
        while let op = decoder.next() {
            if let code = executor.execute(op).violation { return isKnown(code) ? nil : described(bytes) }
        }
        return nil
    }

    /// The input run again with messages (deterministic: it stops at the same violation).
    func described(_ bytes: UnsafeRawBufferPointer) -> Violation? {
        var decoder = OperationDecoder(bytes)
        var ex = Executor(config: decoder.config.vcpuConfig(variant: variant, fixes: fixes))
        while let op = decoder.next() {
            if ex.execute(op).violation != nil { return ex.stepViolation }
        }
        return nil
    }

    /// The report printed before trapping: the violation, then the program as .svm text.
    public func report(_ bytes: UnsafeRawBufferPointer, _ v: Violation) -> String {
        var program = ByteCodec.decode(bytes)
        program.config.variant = variant
        program.config.fixes = fixes
        let prefix = Program(config: program.config, operations: Array(program.operations.prefix(v.step)))
        return """
        \(v)
        # variant \(variant.rawValue)\(fixes.map { " fixes=" + $0.description } ?? ""); program up to the violating step (\(v.step) of \(program.operations.count) operations):
        \(SVMText.print(prefix))
        """
    }
}
