// svmfuzz replay: run a program, optionally step by step, and give the verdict.

import ArgumentParser
import Foundation
import SVMFuzzKit
import SVMModel

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a .svm program or a raw libFuzzer input and print the verdict.",
        discussion: """
        The file is .svm text if its name ends in .svm or it is UTF-8 text that parses; anything else \
        is a raw libFuzzer input, decoded exactly as the fuzz target decodes it. The whole program runs \
        (past a violation, so later expect lines are checked); the verdict is the last output: \
        'CLEAN (<n> steps)' or 'VIOLATION <id> at step <n> (line <l>): <what happened>' (the first \
        violation), then one 'EXPECT FAILED line <l>: wanted ..., got ...' line per failed expect.

        With --trace, one line per step before the verdict: step, source line, the operation as .svm \
        text, who ran it (l1, l2, smm for guest instructions; userspace for ioctls and guest-memory \
        writes; platform for smi/init; skipped after a shutdown until the VMM resets; none when KVM_RUN \
        exited before the instruction ran), the exit to userspace during the step, mode, GIF, EFER, \
        pending KVM requests, the ioctl result, and the register owners whenever they change.

        Exit status: 0 when there is no violation and every expect holds; 1 on a violation or a failed \
        expect; 2 on bad input. A violation that an 'expect violation=<id>' line after it expects is \
        not a failure: the exit status is then 0 if every expect holds.
        """)

    @Argument(help: "A .svm program or a raw libFuzzer input.")
    var file: String

    @Option(help: "The variant to run on (overrides the file's config line; default: the file's, else merged).")
    var variant: String?

    @Option(parsing: .unconditional, help: ArgumentHelp(FixNames.help, valueName: "+a,-b"))
    var fixes: String?

    @Flag(help: "Print every step before the verdict.")
    var trace = false

    @Flag(help: "Print one JSON document (verdict, expects, and the steps with --trace) instead of text.")
    var json = false

    func run() throws {
        let chosen = try VariantNames.parse(variant)
        let delta = try FixNames.parse(fixes)
        let input = try Input.load(file)
        let program = FixNames.applied(delta, to: input.program)
        let used = VariantNames.effective(chosen, program)
        let (report, steps) = Observer.run(program, variant: chosen)

        let expectedBy = report.violation.flatMap { expectingLine(program, $0) }
        let failed = (report.violation != nil && expectedBy == nil) || !report.expectFailures.isEmpty
        let status: Int32 = failed ? 1 : 0

        if json {
            let doc = ReplayJSON(file: file, format: input.format.rawValue, variant: used.rawValue,
                                 operations: program.operations.count, steps: report.steps,
                                 verdict: verdictWord(report, expectedBy),
                                 violation: report.violation.map { ViolationJSON($0, expectedByLine: expectedBy) },
                                 expectFailures: report.expectFailures.map(ExpectFailureJSON.init),
                                 exitStatus: Int(status),
                                 trace: trace ? steps.map(StepJSON.init) : nil)
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try enc.encode(doc)
            print(String(decoding: data, as: UTF8.self))
        } else {
            if trace {
                for line in TraceTable.render(steps) { print(line) }
            }
            for line in verdictLines(report, expectedBy: expectedBy) {
                let expected = expectedBy != nil && line.hasPrefix("VIOLATION")
                print(expected ? Output.paint(line, .yellow) : Output.verdictColour(line))
            }
        }
        if status != 0 { throw Finish(code: status) }
    }

    /// The line of an `expect violation=<id>` after the violating step that names this violation.
    func expectingLine(_ program: Program, _ v: Violation) -> Int? {
        for (i, op) in program.operations.enumerated() where i >= v.step {
            if case .expect(let e) = op, let w = e.violation, !w.isEmpty,
               w == v.id.description || w == v.id.family {
                return i < program.lines.count && program.lines[i] > 0 ? program.lines[i] : i + 1
            }
        }
        return nil
    }

    func verdictWord(_ r: RunReport, _ expectedBy: Int?) -> String {
        if r.violation != nil && expectedBy == nil { return "violation" }
        if !r.expectFailures.isEmpty { return "expect-failed" }
        return r.violation != nil ? "expected-violation" : "clean"
    }

    func verdictLines(_ r: RunReport, expectedBy: Int?) -> [String] {
        var out: [String] = []
        if let v = r.violation {
            // The verdict stays last: the note that the violation is expected goes above it.
            if let l = expectedBy { out.append("expected violation: the expect on line \(l) names it") }
            out.append(v.description)
        } else {
            out.append("CLEAN (\(r.steps) steps)")
        }
        out += r.expectFailures.map(\.description)
        return out
    }
}

// MARK: - The trace table

enum TraceTable {
    /// Operations longer than this get a line of their own above their row.
    static let operationWidth = 36
    static let indent = 6

    static func render(_ steps: [StepObservation]) -> [String] {
        let header = ["step", "line", "operation", "ran", "exit", "mode", "gif", "efer", "ioctl", "requests"]
        let opWidth = min(operationWidth, steps.map(\.text.count).max() ?? 0)
        var rows: [[String]] = [header]
        for s in steps {
            let long = s.text.count > opWidth
            rows.append([
                long ? "" : String(s.step), long ? "" : (s.line > 0 ? String(s.line) : "-"), long ? "" : s.text,
                s.ran, s.exit?.description ?? "-", s.mode.description, s.gif ? "1" : "0", Output.hex(s.efer),
                s.ioctl?.description ?? "-", s.requests.isEmpty ? "-" : s.requests.joined(separator: ","),
            ])
        }
        let widths = Output.columnWidths(rows)
        let lines = Output.table(rows)
        let opColumn = String(repeating: " ", count: widths[0] + widths[1] + 4)
        var out = [Output.paint(lines[0], .bold)]
        for (s, line) in zip(steps, lines.dropFirst()) {
            var block: [String] = []
            if s.text.count > opWidth {
                block.append(Output.pad(String(s.step), widths[0]) + "  " +
                             Output.pad(s.line > 0 ? String(s.line) : "-", widths[1]) + "  " + s.text)
            }
            block.append(line)
            out += s.skipped ? block.map { Output.paint($0, .dim) } : block
            if s.ownersChanged || s.step == 1 { out.append(opColumn + "owners " + s.ownersText) }
            if let v = s.violation { out.append(opColumn + Output.paint(v.description, .red)) }
            for f in s.expectFailures { out.append(opColumn + Output.paint(f.description, .red)) }
        }
        return out
    }
}

// MARK: - JSON

struct ReplayJSON: Codable {
    var file: String
    var format: String
    var variant: String
    var operations: Int
    var steps: Int
    /// clean, violation, expected-violation, expect-failed
    var verdict: String
    var violation: ViolationJSON?
    var expectFailures: [ExpectFailureJSON]
    var exitStatus: Int
    var trace: [StepJSON]?
}

struct ViolationJSON: Codable {
    var id: String
    var step: Int
    var line: Int?
    var detail: String
    var text: String
    var expectedByLine: Int?

    init(_ v: Violation, expectedByLine: Int? = nil) {
        id = v.id.description; step = v.step; line = v.line > 0 ? v.line : nil; detail = v.detail
        text = v.description; self.expectedByLine = expectedByLine
    }
}

struct ExpectFailureJSON: Codable {
    var line: Int
    var step: Int
    var wanted: String
    var got: String
    var text: String
    init(_ f: ExpectFailure) { line = f.line; step = f.step; wanted = f.wanted; got = f.got; text = f.description }
}

struct StepJSON: Codable {
    var step: Int
    var line: Int?
    var operation: String
    var ran: String
    var exit: String?
    var ioctl: String?
    var mode: String
    var gif: Bool
    var efer: String
    var requests: [String]
    var owners: [String: String]
    var ownersChanged: Bool
    var violation: ViolationJSON?
    var expectFailures: [ExpectFailureJSON]

    init(_ s: StepObservation) {
        step = s.step; line = s.line > 0 ? s.line : nil; operation = s.text; ran = s.ran
        exit = s.exit?.description; ioctl = s.ioctl?.description; mode = s.mode.description; gif = s.gif
        efer = Output.hex(s.efer); requests = s.requests
        owners = Dictionary(uniqueKeysWithValues: zip(RegisterOwners.names, s.owners.map(\.description)))
        ownersChanged = s.ownersChanged
        violation = s.violation.map { ViolationJSON($0) }
        expectFailures = s.expectFailures.map(ExpectFailureJSON.init)
    }
}
