// One program's oracle verdict, the run's summary, and the list of known disagreements
// (corpus/oracle-known.txt) that explain a difference with evidence.

import Foundation

struct OracleResult {
    enum Status {
        case agree(Int)
        /// Agreed up to the step the runner cannot play.
        case agreeUntil(Int)
        case disagree(OracleDifference)
        case known(OracleDifference, KnownDisagreements.Entry)
        case notRun(String)
        case noRecords
    }

    var program: String
    var status: Status = .noRecords
    var warnings: [String] = []
    /// WARN sites the model fired during the program.
    var modelWarnings: [String] = []

    var verdict: String {
        switch status {
        case .agree: return "agree"
        case .agreeUntil: return "agree-until-unsupported"
        case .disagree: return "disagree"
        case .known(_, let k): return "known:\(k.cause)"
        case .notRun: return "not-run"
        case .noRecords: return "no-records"
        }
    }

    var line: String {
        var s: String
        switch status {
        case .agree(let n): s = "agree     \(program) (\(n) steps)"
        case .agreeUntil(let n): s = "agree     \(program) (until step \(n), which the runner cannot play)"
        case .disagree(let d): s = "DISAGREE  \(program): \(Self.describe(d))"
        case .known(let d, let k): s = "known     \(program): \(Self.describe(d)) [\(k.cause): \(k.evidence)]"
        case .notRun(let why): s = "not-run   \(program): \(why)"
        case .noRecords: s = "NO-RECORDS \(program): the runner printed nothing for it"
        }
        if !warnings.isEmpty {
            s += "\n          kernel warnings: " + warnings.joined(separator: " | ")
            if !modelWarnings.isEmpty { s += " (model: WARN in " + modelWarnings.joined(separator: ", ") + ")" }
        }
        return s
    }

    static func describe(_ d: OracleDifference) -> String {
        "step \(d.step)\(d.line > 0 ? " (line \(d.line))" : "") \(d.operation): \(d.field) model=\(d.model) kernel=\(d.kernel)"
    }

    var json: String {
        var o: [String: Any] = ["program": program, "verdict": verdict, "warnings": warnings, "model_warnings": modelWarnings]
        switch status {
        case .disagree(let d), .known(let d, _):
            o["step"] = d.step; o["line"] = d.line; o["operation"] = d.operation
            o["field"] = d.field; o["model"] = d.model; o["kernel"] = d.kernel
        default: break
        }
        if case .known(_, let k) = status { o["cause"] = k.cause; o["evidence"] = k.evidence }
        return JSONText.of(o)
    }
}

struct OracleSummary {
    var kernel: String
    var variant: String
    var programs = 0, agree = 0, known = 0, disagree = 0, notRun = 0, noRecords = 0, warnings = 0
    var byCause: [String: Int] = [:]

    /// Programs whose verdict is neither agreement nor an explained difference.
    var failed: Int { disagree + noRecords }

    mutating func add(_ r: OracleResult) {
        programs += 1
        if !r.warnings.isEmpty { warnings += 1 }
        switch r.status {
        case .agree, .agreeUntil: agree += 1
        case .known(_, let k): known += 1; byCause[k.cause, default: 0] += 1
        case .disagree: disagree += 1
        case .notRun: notRun += 1
        case .noRecords: noRecords += 1
        }
    }

    var line: String {
        let causes = byCause.keys.sorted().map { "\($0) \(byCause[$0]!)" }.joined(separator: ", ")
        return "oracle linux \(kernel) vs model \(variant): \(programs) programs, \(agree) agree, \(known) known"
            + (causes.isEmpty ? "" : " (\(causes))") + ", \(disagree) disagree, \(notRun) not run, \(noRecords) without records"
            + (warnings > 0 ? ", \(warnings) with kernel warnings" : "")
    }

    var json: String {
        JSONText.of(["summary": true, "kernel": kernel, "variant": variant, "programs": programs, "agree": agree,
                     "known": known, "by_cause": byCause, "disagree": disagree, "not_run": notRun,
                     "no_records": noRecords, "with_warnings": warnings])
    }
}

enum JSONText {
    static func of(_ o: [String: Any]) -> String {
        guard let d = try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: d, as: UTF8.self)
    }
}

/// corpus/oracle-known.txt: one line per explained disagreement,
/// `<kernel|*> <program path> <field|*> <cause> <evidence...>`, where cause is one of
/// kvm-bug (real KVM is wrong and the model predicted it), tcg (QEMU's SVM emulation), runner (what
/// the runner cannot play), model-pending (a model error with an open fix).
enum KnownDisagreements {
    static let causes = ["kvm-bug", "tcg", "runner", "model-pending"]

    struct Entry {
        var kernel: String
        var program: String
        var field: String
        var cause: String
        var evidence: String

        func matches(path: String, kernel k: String, difference d: OracleDifference) -> Bool {
            (kernel == "*" || kernel == k) && (program == "*" || path.hasSuffix(program)) && (field == "*" || field == d.field)
        }
    }

    static func load(_ path: String, required: Bool) throws -> [Entry] {
        guard FileManager.default.fileExists(atPath: path) else {
            if required { throw BadInput("svmfuzz: cannot read '\(path)': No such file or directory") }
            return []
        }
        let text = String(decoding: try Files.read(path), as: UTF8.self)
        var out: [Entry] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: true).map(String.init)
            guard parts.count == 5, causes.contains(parts[3]) else {
                throw BadInput("\(path):\(i + 1): expected '<kernel|*> <program> <field|*> <\(causes.joined(separator: "|"))> <evidence>'")
            }
            out.append(Entry(kernel: parts[0], program: parts[1], field: parts[2], cause: parts[3], evidence: parts[4]))
        }
        return out
    }
}
