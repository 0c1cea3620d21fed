import Foundation
import SVMFuzzKit
import SVMModel

/// Where invariants fire on corpus/: every program (seeds, regressions, series, oracle-confirm, ...)
/// on its own variant, on merged, and as Debian's 6.1 and 6.12 (on the QEMU/TCG host of the stored
/// records and on a host with NRIPS and VLS), at any step, before or after another violation. The
/// tests of an invariant assert that it is silent there, or fires exactly where it should.
enum CorpusFirings {
    /// The programs replayed, and one `<file> <config> step <n>: <violation>` per step whose
    /// violation is of one of `families`.
    static func of(_ families: Set<InvariantFamily>) throws -> (programs: Int, firings: [String]) {
        let root = CorpusReplayTests.corpus
        let files = FileManager.default.enumerator(atPath: root.path)!.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".svm") }.sorted()
        var fired: [String] = []
        for f in files {
            let p = try SVMText.parse(String(contentsOf: root.appendingPathComponent(f), encoding: .utf8), file: f)
            var configs = [("own", p.config.vcpuConfig()), ("merged", p.config.vcpuConfig(variant: .merged))]
            for k in [Variant.linux61, .linux612] {
                var tcg = p.config.vcpuConfig(variant: k)
                tcg.hostNrips = false
                tcg.hostVls = false
                configs += [(k.rawValue, p.config.vcpuConfig(variant: k)), (k.rawValue + " on TCG", tcg)]
            }
            for (name, c) in configs {
                _ = Runner.run(p, config: c) { _, _, ex, r in
                    if let v = r.violation, families.contains(v.id.family) {
                        fired.append("\(f) \(name) step \(r.step): \(ex.stepViolation?.description ?? "")")
                    }
                }
            }
        }
        return (files.count, fired)
    }
}
