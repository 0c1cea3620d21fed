// svmfuzz generate: random programs for the oracle campaign (scripts/kvm-oracle.sh --campaign
// --source hunt): seeds mutated by the libFuzzer target's operation mutator, and random byte strings
// decoded as the target decodes them (as svmfuzz hunt's RandomSearch does).

import ArgumentParser
import Foundation
import SVMFuzzKit
import SVMModel

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write random programs as .svm files (for svmfuzz oracle).",
        discussion: """
        Each program is either a program from --seeds (default corpus/seeds) with 1 to --mutations \
        random operation-level mutations (OperationMutator, as the libFuzzer target's custom mutator), \
        or (one in four) a random byte string of up to 64 bytes decoded as the fuzz target decodes it. \
        Only programs the oracle can boot (nested=1 npt=1 vgif=1) with at least one operation, and none the runner hangs on (a guest instruction in real mode after reset), and none whose L1 sets EFER.LMSLE (TCG's CPU lacks it and fails the next entry), are kept. \
        Files are named gen-<seed>-<n>.svm. The same seed gives the same programs. Exit status: 0; 2 on bad input.
        """)

    @Option(help: "How many programs to write.")
    var count: Int = 100

    @Option(help: "The seed of the random generator.")
    var seed: UInt64 = 1

    @Option(help: ArgumentHelp("Programs to mutate (.svm files or folders).", valueName: "path"))
    var seeds: [String] = []

    @Option(help: "The most mutations applied to one seed program.")
    var mutations: Int = 8

    @Option(help: "The longest program, in encoded bytes.")
    var maxLen: Int = 256

    @Option(name: .customShort("o"), help: ArgumentHelp("The folder to write the programs to.", valueName: "dir"))
    var output: String

    func run() throws {
        guard count >= 1, mutations >= 1, maxLen >= 16 else {
            throw BadInput("svmfuzz generate: --count and --mutations must be at least 1, --max-len at least 16")
        }
        let seedFiles = try ProgramFiles.collect(seeds.isEmpty ? [Repo.root() + "/corpus/seeds"] : seeds)
        let bases = try seedFiles.map { ByteCodec.encode(try Input.loadText($0)) }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: seed)
        var written = 0, tried = 0
        var seen = Set<Program>()
        while written < count && tried < count * 50 {
            tried += 1
            var bytes: [UInt8]
            if bases.isEmpty || rng.next() % 4 == 0 {
                bytes = (0..<Int(rng.next() % 65)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                bytes = bases[Int(rng.next() % UInt64(bases.count))]
                for _ in 0..<(1 + Int(rng.next() % UInt64(mutations))) {
                    let s = UInt32(truncatingIfNeeded: rng.next())
                    if let m = bytes.withUnsafeBytes({ OperationMutator.mutate($0, maxSize: maxLen, seed: s) }) { bytes = m }
                }
            }
            let program = ByteCodec.decode(bytes)
            guard !program.operations.isEmpty, Oracle.runnable(program), Oracle.limits(program).isClear,
                  seen.insert(program).inserted else { continue }
            try Files.write(SVMText.print(program), to: "\(output)/gen-\(seed)-\(written).svm")
            written += 1
        }
        print("generated \(written) programs in \(output) (\(tried) tried)")
    }
}
