// svm-bench --executor: inputs per second of the fuzz harness (bytes → operations → executor →
// invariants), the fuzzer's hot path, over the corpus programs encoded as fuzzer inputs.

import Foundation
import SVMFuzzKit
import SVMModel

func executorBench(inputs target: Int) {
    var files: [String] = []
    for dir in ["corpus/seeds", "corpus/regressions"] {
        guard let e = FileManager.default.enumerator(atPath: dir) else { continue }
        while let f = e.nextObject() as? String { if f.hasSuffix(".svm") { files.append(dir + "/" + f) } }
    }
    files.sort()
    let inputs: [[UInt8]] = files.compactMap { path in
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let p = try? SVMText.parse(text, file: path) else { return nil }
        return ByteCodec.encode(p)
    }
    guard !inputs.isEmpty else {
        fputs("svm-bench: --executor runs from the repository root (no corpus/*.svm found)\n", stderr)
        exit(2)
    }
    let ops = inputs.map { ByteCodec.decode($0).operations.count }.reduce(0, +)
    var harness = FuzzHarness(variant: .default)
    var violations = 0, runs = 0
    let clock = ContinuousClock()
    let start = clock.now
    while runs < target {
        for bytes in inputs {
            if bytes.withUnsafeBytes({ harness.run($0) }) != nil { violations += 1 }
        }
        runs += inputs.count
    }
    let d = clock.now - start
    let s = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    let rounds = runs / inputs.count
    print("executor: \(runs) inputs in \(fmt(s, 3)) s = \(fmt(Double(runs) / s / 1e3, 1)) k inputs/s "
          + "(\(inputs.count) corpus programs, \(ops) operations each round, at most \(fmt(Double(ops * rounds) / s / 1e6, 2)) M ops/s; \(violations / rounds) stop at a violation)")
}
