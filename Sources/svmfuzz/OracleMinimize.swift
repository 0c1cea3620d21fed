// svmfuzz oracle-minimize: shrink a program on which the model and real KVM disagree, keeping the
// disagreement (same field, same kind of operation). Candidates are judged in batches: all of a
// round's candidates are replayed in one boot of the kernel (svmfuzz oracle's plans and comparison).

import ArgumentParser
import Foundation
import SVMFuzzKit
import SVMModel

struct OracleMinimize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oracle-minimize",
        abstract: "Shrink a program while the model and real KVM still disagree at the same field.",
        discussion: """
        Each round lowers every candidate (the program cut after the differing step, each operation \
        removed, runs of operations removed) to a plan, replays them all in one boot \
        (scripts/kvm-oracle.sh), compares each with the model as `svmfuzz oracle` does, and keeps the \
        smallest candidate whose first difference is at the same field on the same kind of operation; \
        it stops when no candidate keeps it. Candidates are named by the original operations they keep \
        (k0-3_5 keeps operations 0 to 3 and 5), and every record is kept in WORK/all-records, so \
        --records WORK/all-records replays a minimization without booting. Prints one summary line \
        (or a JSON object with --json). Exit status: 0; 1 when the program does not disagree; 2 on bad input.
        """)

    @Argument(help: "A .svm program on which model and kernel disagree.")
    var file: String

    @Option(help: "The Debian kernel: 6.1 or 6.12.")
    var kernel: String = "6.12"

    @Option(help: ArgumentHelp("Where to keep plans and records (required unless --records).", valueName: "dir"))
    var work: String?

    @Option(help: ArgumentHelp("Judge candidates with the records in this folder (named as the candidates) instead of booting.", valueName: "dir"))
    var records: String?

    @Option(help: "The field to keep (default: the program's first difference).")
    var field: String?

    @Option(help: "The most rounds.")
    var maxRounds: Int = 40

    @Option(name: .customShort("o"), help: ArgumentHelp("Write the minimized program (with a header) to this file.", valueName: "out.svm"))
    var output: String?

    @Flag(help: "Print the summary as one JSON object.")
    var json = false

    /// What one candidate showed.
    struct Verdict {
        var keep: [Int]
        var difference: OracleDifference?
    }

    func run() throws {
        guard records != nil || work != nil else { throw BadInput("svmfuzz oracle-minimize: --work DIR or --records DIR is required") }
        let original = try Input.loadText(file)
        let oracle = try Oracle.parse([file, "--kernel", kernel])
        let model = try oracle.model()
        let start = DispatchTime.now().uptimeNanoseconds
        var boots = 0, judged = 0
        let all = records ?? work! + "/all-records"
        try FileManager.default.createDirectory(atPath: all, withIntermediateDirectories: true)

        func judge(_ sets: [[Int]]) throws -> [Verdict] {
            var unique: [[Int]] = []
            for s in sets where !unique.contains(s) { unique.append(s) }
            if records == nil {
                let missing = unique.filter { !FileManager.default.fileExists(atPath: "\(all)/\(Self.name($0)).jsonl") }
                if !missing.isEmpty {
                    boots += 1
                    let round = "\(work!)/boot-\(boots)"
                    try? FileManager.default.removeItem(atPath: round)
                    try FileManager.default.createDirectory(atPath: round + "/plans", withIntermediateDirectories: true)
                    for s in missing {
                        try Files.write(KvmPlan.lower(Self.subset(original, s), name: Self.name(s) + ".svm"),
                                        to: "\(round)/plans/\(Self.name(s)).plan")
                    }
                    try oracle.boot(root: Repo.root(), plans: round + "/plans", out: round + "/records")
                    for s in missing {
                        let from = "\(round)/records/\(Self.name(s)).jsonl", to = "\(all)/\(Self.name(s)).jsonl"
                        try? FileManager.default.removeItem(atPath: to)
                        try? FileManager.default.copyItem(atPath: from, toPath: to)
                    }
                }
            }
            judged += unique.count
            return unique.map { s in
                let sub = Self.subset(original, s)
                let r = oracle.compare(Self.name(s) + ".svm", sub, skip: Oracle.notPlayed(sub, model: model),
                                       records: "\(all)/\(Self.name(s)).jsonl", model: model, known: [])
                switch r.status {
                case .disagree(let d), .known(let d, _): return Verdict(keep: s, difference: d)
                default: return Verdict(keep: s, difference: nil)
                }
            }
        }

        guard Oracle.runnable(original) else {
            throw BadInput("svmfuzz oracle-minimize: \(file): module parameters differ from the oracle's boot (nested=1 npt=1 vgif=1)")
        }
        let first = try judge([Array(original.operations.indices)])[0]
        guard let target = first.difference, field.map({ $0 == target.field }) ?? true else {
            Output.error("svmfuzz oracle-minimize: \(file): model and kernel do not disagree\(field.map { " at " + $0 } ?? "")")
            throw Finish(code: 1)
        }
        let kind = Self.kind(target.operation)
        func keeps(_ v: Verdict) -> Bool {
            guard let d = v.difference else { return false }
            return d.field == target.field && Self.kind(d.operation) == kind
        }
        var best = first
        var rounds = 0
        while rounds < maxRounds {
            rounds += 1
            let cands = Self.candidates(best.keep, differingStep: best.difference!.step)
                .filter { !Oracle.stallsTcg(Self.subset(original, $0), model: model) }
            let found = try judge(cands)
                .filter(keeps).min { $0.keep.count < $1.keep.count }
            guard let smaller = found, smaller.keep.count < best.keep.count else { break }
            best = smaller
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let d = best.difference!
        let small = Self.subset(original, best.keep)
        let header = [
            "# oracle-minimize \(file) on linux \(kernel) (model \(model.variant.rawValue)): \(original.operations.count) -> \(small.operations.count) operations",
            "# first difference: step \(d.step) \(d.operation): \(d.field) model=\(d.model) kernel=\(d.kernel)",
            "# reproduce: svmfuzz oracle THIS.svm --kernel \(kernel) --work DIR",
        ]
        if let output { try Files.write(header.joined(separator: "\n") + "\n" + SVMText.print(small), to: output) }
        let summary: [String: Any] = [
            "program": file, "kernel": kernel, "field": d.field, "operation": d.operation, "kind": kind,
            "model": d.model, "kernel_value": d.kernel, "step": d.step, "ops_before": original.operations.count,
            "ops_after": small.operations.count, "rounds": rounds, "boots": boots, "candidates": judged,
            "seconds": (seconds * 10).rounded() / 10, "output": output ?? "", "keep": Self.name(best.keep),
        ]
        if json {
            print(JSONText.of(summary))
        } else {
            print("minimized \(file): \(original.operations.count) -> \(small.operations.count) operations, \(d.field) at \(kind) "
                + "(model=\(d.model) kernel=\(d.kernel)), \(rounds) rounds, \(boots) boots, \(judged) candidates, "
                + String(format: "%.1f s", seconds))
        }
    }

    /// The candidates of one round: the program cut after the differing step, each operation up to it
    /// removed, and runs of a half, a quarter and an eighth of them removed.
    static func candidates(_ keep: [Int], differingStep: Int) -> [[Int]] {
        let upTo = Array(keep.prefix(max(1, differingStep)))
        var out: [[Int]] = []
        if upTo.count < keep.count { out.append(upTo) }
        var size = upTo.count / 2
        while size >= 2 {
            for start in stride(from: 0, to: upTo.count, by: size) {
                var c = upTo
                c.removeSubrange(start..<min(start + size, c.count))
                if !c.isEmpty { out.append(c) }
            }
            size /= 2
        }
        for i in upTo.indices.reversed() where upTo.count > 1 {
            var c = upTo
            c.remove(at: i)
            out.append(c)
        }
        return out
    }

    /// The program with only the operations at these indices.
    static func subset(_ p: Program, _ keep: [Int]) -> Program {
        Program(config: p.config, operations: keep.map { p.operations[$0] }, lines: keep.map { p.lines[$0] })
    }

    /// A candidate's file name: `k` and the ranges of original operation indices it keeps.
    static func name(_ keep: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < keep.count {
            var j = i
            while j + 1 < keep.count && keep[j + 1] == keep[j] + 1 { j += 1 }
            parts.append(i == j ? "\(keep[i])" : "\(keep[i])-\(keep[j])")
            i = j + 1
        }
        let text = "k" + parts.joined(separator: "_")
        guard text.count > 180 else { return text }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return "h" + String(h, radix: 16)
    }

    /// The kind of an operation: the first word of its text (`vmrun`, `set_sregs`, ...).
    static func kind(_ operation: String) -> String {
        String(operation.split(separator: " ").first ?? "?")
    }
}
