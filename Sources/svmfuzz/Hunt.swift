// svmfuzz hunt: a libFuzzer-free random search (the baseline libFuzzer is compared against).

import ArgumentParser
import Foundation
import SVMFuzzKit
import SVMModel

struct Hunt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search random inputs for a violation, without libFuzzer.",
        discussion: """
        Generates random byte strings (SplitMix64 seeded by --seed, lengths 0 to --max-len), decodes \
        and runs each exactly as the libFuzzer target does, and stops at the first violation, after \
        --runs inputs or after --seconds (60 s when neither is given). On a finding it prints the \
        program as .svm text, writes the input to findings/<variant>/hunt-<seed>.bin and ends with \
        'FOUND <invariant-id> after <execs> execs (<seconds> s)'; otherwise it ends with \
        'CLEAN <execs> execs'. The same seed and limits give the same result (unless --seconds cuts \
        the search). Exit status: 0 either way; 2 on bad input.
        """)

    @Option(help: "The variant to search (\(VariantNames.expected)).")
    var variant: String

    @Option(parsing: .unconditional, help: ArgumentHelp(FixNames.help, valueName: "+a,-b"))
    var fixes: String?

    @Option(help: "Stop after this many seconds.")
    var seconds: Double?

    @Option(help: "Stop after this many inputs.")
    var runs: Int?

    @Option(help: "The seed of the random generator.")
    var seed: UInt64 = 1

    @Option(help: "The longest input, in bytes.")
    var maxLen: Int = 64

    @Flag(help: "Print one JSON line (result, invariant, signature, execs, seconds, input) instead of text.")
    var json = false

    struct Result: Encodable {
        /// found or clean
        var result: String
        var invariant: String?
        var signature: String?
        var execs: Int
        var seconds: Double
        var input: String?
    }

    func run() throws {
        let v = try VariantNames.parse(variant) as Variant
        let delta = try FixNames.parse(fixes)
        if let s = seconds, !(s > 0 && s.isFinite) {
            throw BadInput("svmfuzz hunt: --seconds must be a positive number of seconds (got \(s))")
        }
        if let r = runs, r < 1 { throw BadInput("svmfuzz hunt: --runs must be at least 1 (got \(r))") }
        guard (1...(1 << 20)).contains(maxLen) else {
            throw BadInput("svmfuzz hunt: --max-len must be between 1 and 1048576 (got \(maxLen))")
        }
        let limit = seconds ?? (runs == nil ? 60 : nil)

        var search = RandomSearch(variant: v, fixes: delta, seed: seed, maxLength: maxLen)
        let start = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        let result = search.run(maxRuns: runs) { _ in limit.map { elapsed() >= $0 } ?? false }
        let took = elapsed()

        guard let f = result.finding else {
            if json { return try Output.jsonLine(Result(result: "clean", execs: result.executions, seconds: took)) }
            print(Output.paint("CLEAN \(result.executions) execs", .green))
            return
        }
        let dir = "findings/\(v.rawValue)"
        let path = "\(dir)/hunt-\(seed).bin"
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw BadInput("svmfuzz: cannot create '\(dir)': \(error.localizedDescription)")
        }
        try Files.write(f.input, to: path)
        if json {
            return try Output.jsonLine(Result(result: "found", invariant: f.violation.id.description,
                                              signature: f.violation.code.description, execs: result.executions,
                                              seconds: took, input: path))
        }
        let report = f.input.withUnsafeBytes { search.harness.report($0, f.violation) }
        print(report.hasSuffix("\n") ? String(report.dropLast()) : report)
        print("# input: \(path) (\(f.input.count) bytes)")
        print(Output.paint("FOUND \(f.violation.id) after \(result.executions) execs (\(String(format: "%.1f", took)) s)", .red))
    }
}
