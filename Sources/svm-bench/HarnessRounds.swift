// svm-bench --harness R [--length L]: the fuzz target's work (FuzzHarness.run on encoded inputs), R
// rounds over a fixed input set, untimed. scripts/bench.sh runs it under valgrind for two values of R
// and divides the difference of the totals (instructions, heap blocks) by the difference of the
// executions, so loading and generating the inputs cancel out.
//
// Inputs: the corpus seeds (corpus/seeds/*.svm, run from the repository root; the known issues of
// corpus/known-issues.txt end an input without a report, as in the fuzz target), or with --length L
// a fixed set of programs of exactly L operations: the first L operations of random byte strings
// decoded as the fuzz target decodes them, kept only when all L run on `merged` without any
// violation (so every execution runs to its end). For every length the programs are prefixes of
// the same 64-operation programs, so lengths differ in length only.

import Foundation
import SVMFuzzKit
import SVMModel

/// The programs every length takes its prefixes from.
let lengthProgramCount = 16
let lengthProgramOps = 64

/// `count` programs of `lengthProgramOps` operations that run clean on `merged`; the same every time.
func cleanLongPrograms(count: Int) -> [Program] {
    var rng = SplitMix64(seed: 0x5eed_1e46)
    var out: [Program] = []
    var tried = 0
    while out.count < count {
        tried += 1
        guard tried < 1_000_000 else {
            fputs("svm-bench: no \(count) clean \(lengthProgramOps)-operation programs in \(tried) random inputs\n", stderr)
            exit(1)
        }
        let bytes = (0..<1024).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let decoded = ByteCodec.decode(bytes)
        guard decoded.operations.count >= lengthProgramOps else { continue }
        // The default configuration: a program's own config line would change what its operations do.
        let p = Program(operations: Array(decoded.operations.prefix(lengthProgramOps)))
        let r = Runner.run(p, variant: .merged)
        guard r.violation == nil, r.steps == lengthProgramOps else { continue }
        out.append(p)
    }
    return out
}

/// The encoded inputs: the corpus seeds, or the prefixes of `length` operations.
func harnessInputs(length: Int?) -> [[UInt8]] {
    if let length {
        return cleanLongPrograms(count: lengthProgramCount).map { p in
            let bytes = ByteCodec.encode(Program(operations: Array(p.operations.prefix(length))))
            guard ByteCodec.decode(bytes).operations.count == length else {
                fputs("svm-bench: a \(length)-operation program does not decode to \(length) operations\n", stderr)
                exit(1)
            }
            return bytes
        }
    }
    var files = (try? FileManager.default.contentsOfDirectory(atPath: "corpus/seeds")) ?? []
    files = files.filter { $0.hasSuffix(".svm") }.sorted()
    let inputs: [[UInt8]] = files.compactMap { f in
        let path = "corpus/seeds/" + f
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let p = try? SVMText.parse(text, file: path) else { return nil }
        return ByteCodec.encode(p)
    }
    guard !inputs.isEmpty, inputs.count == files.count else {
        fputs("svm-bench: --harness without --length runs from the repository root (corpus/seeds/*.svm must parse)\n", stderr)
        exit(2)
    }
    return inputs
}

func harnessRounds(rounds: Int, length: Int?) {
    let inputs = harnessInputs(length: length)
    let ops = inputs.map { ByteCodec.decode($0).operations.count }.reduce(0, +)
    // Known issues end an input without a report, as in the fuzz target (scripts/fuzz.sh).
    let known = (try? String(contentsOfFile: "corpus/known-issues.txt", encoding: .utf8))
        .flatMap { try? FuzzHarness.parseKnownIssues($0) } ?? []
    var harness = FuzzHarness(variant: .merged, known: known)
    var violations = 0
    for _ in 0..<rounds {
        for bytes in inputs {
            if bytes.withUnsafeBytes({ harness.run($0) }) != nil { violations += 1 }
        }
    }
    print("harness: \(rounds) rounds of \(inputs.count) inputs (\(ops) operations per round, "
          + "\(length.map { "\($0) each" } ?? "corpus/seeds")), \(violations) stopped at a violation")
}
