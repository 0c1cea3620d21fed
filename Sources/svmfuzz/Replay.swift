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
        the ioctl result, the vector of an exception the step delivered (an instruction's fault, one \
        userspace queued, an EVENTINJ exception), pending KVM requests, and the register owners \
        whenever they change.

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

    @Flag(help: "Print JSON lines instead of text: one object per step (its record), then the verdict object.")
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
            // JSON lines, so that scripts never parse the human output: the step records, then the verdict.
            for s in steps { try Output.jsonLine(StepJSON(s)) }
            let doc = ReplayJSON(file: file, format: input.format.rawValue, variant: used.rawValue,
                                 operations: program.operations.count, steps: report.steps,
                                 verdict: verdictWord(report, expectedBy),
                                 violation: report.violation.map { ViolationJSON($0, expectedByLine: expectedBy) },
                                 expectFailures: report.expectFailures.map(ExpectFailureJSON.init),
                                 exitStatus: Int(status))
            try Output.jsonLine(doc)
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
            if case .expect(let e) = op, case .matching(let w)? = e.violation, w.matches(v.code) {
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
        let header = ["step", "line", "operation", "ran", "exit", "mode", "gif", "efer", "ioctl", "exc", "requests"]
        let opWidth = min(operationWidth, steps.map(\.text.count).max() ?? 0)
        var rows: [[String]] = [header]
        for s in steps {
            let long = s.text.count > opWidth
            rows.append([
                long ? "" : String(s.step), long ? "" : (s.line > 0 ? String(s.line) : "-"), long ? "" : s.text,
                s.ran, s.exit?.description ?? "-", s.mode.description, s.gif ? "1" : "0", Output.hex(s.efer),
                s.ioctl?.description ?? "-", s.exception.map { String($0) } ?? "-",
                s.requests.isEmpty ? "-" : s.requests.joined(separator: ","),
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
            if let why = s.record.skip { out.append(opColumn + Output.paint("skipped: \(why)", .dim)) }
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
}

struct ViolationJSON: Codable {
    var id: String
    var reason: String?
    var step: Int
    var line: Int?
    var detail: String
    var text: String
    var expectedByLine: Int?

    init(_ v: Violation, expectedByLine: Int? = nil) {
        id = v.id.description; reason = v.reason?.description; step = v.step; line = v.line > 0 ? v.line : nil; detail = v.detail
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

/// One step record as a JSON line (stable keys; absent facts are left out).
struct StepJSON: Codable {
    var step: Int
    var line: Int?
    var operation: String
    var ran: String
    var skip: String?
    var exit: String?
    var ioctl: String?
    var ioctls: [IoctlJSON]
    var vmexitCode: String?
    var exception: Int?
    var delivered: DeliveredJSON?
    var warnings: [String]
    var mode: String
    var gif: Bool
    var efer: String
    var requests: [String]
    var owners: [String: String]
    var ownersChanged: Bool
    var violation: ViolationJSON?
    var expectFailures: [ExpectFailureJSON]

    struct IoctlJSON: Codable {
        var ioctl: String
        var result: String
        var rule: String?
        var raisedTripleFault: Bool
    }

    struct DeliveredJSON: Codable {
        var eventInj: String
        var returnRip: String
    }

    init(_ s: StepObservation) {
        let r = s.record
        step = s.step; line = s.line > 0 ? s.line : nil; operation = s.text; ran = s.ran
        skip = r.skip?.description
        exit = s.exit?.description; ioctl = s.ioctl?.description
        ioctls = (0..<r.ioctls.count).map { i in
            let c = r.ioctls[i]
            return IoctlJSON(ioctl: c.kind.description, result: c.result.description, rule: c.refusal?.description,
                             raisedTripleFault: c.raisedTripleFault)
        }
        vmexitCode = r.vmexitCode.map(Output.hex)
        exception = s.exception.map(Int.init)
        delivered = r.delivered.map { DeliveredJSON(eventInj: Output.hex(UInt64($0.eventInj)), returnRip: Output.hex($0.returnRip)) }
        warnings = r.warnings.sites.map(\.name)
        mode = s.mode.description; gif = s.gif
        efer = Output.hex(s.efer); requests = s.requests
        owners = Dictionary(uniqueKeysWithValues: zip(RegisterOwners.names, s.owners.map(\.description)))
        ownersChanged = s.ownersChanged
        violation = s.violation.map { ViolationJSON($0) }
        expectFailures = s.expectFailures.map(ExpectFailureJSON.init)
    }
}
