import Foundation
import XCTest
import SVMFuzzKit
import SVMModel

/// The migration memo (MigrationMemo.swift) skips the migration check only for a state it already
/// passed: the fuzz harness reports the same violations with it as without it, on every program of
/// corpus/ and every prefix of them (inputs that share a prefix, as libFuzzer's mutants do, are where
/// the memo answers), on each regression's own variant and on merged.
final class MigrationMemoTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("corpus")

    /// The memo compares the vCPU's bytes: that is its value only if it holds no references.
    func testTheVcpuIsAPlainValue() {
        XCTAssertTrue(_isPOD(Vcpu.self))
    }

    private func programs(under dir: URL) throws -> [Program] {
        guard let e = FileManager.default.enumerator(atPath: dir.path) else { return [] }
        let names = e.compactMap { $0 as? String }.filter { $0.hasSuffix(".svm") }.sorted()
        return try names.map { name in
            let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            return try SVMText.parse(text, file: name)
        }
    }

    /// Every prefix of every program, encoded as the fuzz target gets them.
    private func inputs(_ programs: [Program]) -> [[UInt8]] {
        programs.flatMap { p in
            (1...max(1, p.operations.count)).map { n in
                ByteCodec.encode(Program(config: p.config, operations: Array(p.operations.prefix(n))))
            }
        }
    }

    private func verdicts(_ inputs: [[UInt8]], _ harness: inout FuzzHarness) -> [String] {
        inputs.map { bytes in bytes.withUnsafeBytes { harness.run($0) }.map { "\($0.code) at \($0.step)" } ?? "clean" }
    }

    func testTheMemoChangesNoVerdict() throws {
        let all = try programs(under: Self.corpus)
        XCTAssertGreaterThan(all.count, 50)
        let regressions = Self.corpus.appendingPathComponent("regressions")
        var runs: [(Variant, [[UInt8]])] = [(.merged, inputs(all))]
        for dir in try FileManager.default.contentsOfDirectory(atPath: regressions.path).sorted() where dir != "merged" {
            let variant = try XCTUnwrap(Variant(rawValue: dir), dir)
            let own = try programs(under: regressions.appendingPathComponent(dir))
            let seeds = try programs(under: Self.corpus.appendingPathComponent("seeds"))
            runs.append((variant, inputs(own + seeds)))
        }
        var hits = 0, violations = 0
        for (variant, inputs) in runs {
            var plain = FuzzHarness(variant: variant, memoizesMigration: false)
            var memo = FuzzHarness(variant: variant)
            let expected = verdicts(inputs, &plain)
            // Twice, the second time in reverse: states met again, from other inputs and other orders.
            XCTAssertEqual(verdicts(inputs, &memo), expected, "\(variant)")
            XCTAssertEqual(Array(verdicts(inputs.reversed(), &memo).reversed()), expected, "\(variant), reversed")
            XCTAssertEqual(plain.migrationMemoCounts.hits, 0)
            hits += memo.migrationMemoCounts.hits
            violations += expected.filter { $0.hasPrefix("unrestorable-state") }.count
        }
        XCTAssertGreaterThan(hits, 1000, "the memo answered")
        XCTAssertGreaterThan(violations, 10, "unrestorable-state findings were among the verdicts")
    }
}
