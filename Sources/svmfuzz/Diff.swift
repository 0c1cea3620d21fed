// svmfuzz diff: the first step where two variants behave differently on the same program.

import ArgumentParser
import Foundation
import SVMFuzzKit
import SVMModel

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a program on two variants and show the first step where what userspace sees differs.",
        discussion: """
        Compares, after every step: who ran it (or whether it was skipped), the exit to userspace, the \
        ioctl result, mode, GIF, everything KVM_GET_REGS/SREGS/MSRS/VCPU_EVENTS/NESTED_STATE return, \
        and the violation the step caused. Prints both sides of the first differing step aligned, rows \
        that differ marked with '*', or 'no difference in <n> steps'. The variants override the file's \
        config line. Exit status: 0 either way; 2 on bad input.
        """)

    @Argument(help: "A .svm program or a raw libFuzzer input.")
    var file: String

    @Option(help: ArgumentHelp("The two variants to compare, separated by a comma (e.g. prefix,merged).", valueName: "a,b"))
    var variants: String

    @Option(parsing: .unconditional, help: ArgumentHelp(FixNames.help, valueName: "+a,-b"))
    var fixes: String?

    func run() throws {
        let names = variants.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard names.count == 2, !names[0].isEmpty, !names[1].isEmpty else {
            throw BadInput("svmfuzz: --variants takes two variants separated by a comma, e.g. prefix,merged (got '\(variants)')")
        }
        let a = try VariantNames.parse(names[0]) as Variant
        let b = try VariantNames.parse(names[1]) as Variant
        let delta = try FixNames.parse(fixes)
        let program = FixNames.applied(delta, to: try Input.load(file).program)
        let (_, left) = Observer.run(program, variant: a)
        let (_, right) = Observer.run(program, variant: b)

        for (l, r) in zip(left, right) {
            let lf = Self.fields(l), rf = Self.fields(r)
            guard Self.align(lf, rf).contains(where: { $0.1 != $0.2 }) else { continue }
            let where_ = "step \(l.step)" + (l.line > 0 ? " (line \(l.line))" : "")
            print("first difference at \(where_): \(l.text)")
            if l.step > 1 { print("steps 1-\(l.step - 1) behave the same on both") }
            var rows: [[String]] = [["", a.rawValue, b.rawValue, ""]]
            for (name, x, y) in Self.align(lf, rf) where x != y || Self.core.contains(name) {
                rows.append([name, x, y, x == y ? "" : "*"])
            }
            let lines = Output.table(rows, separator: "   ")
            print(Output.paint(lines[0], .bold))
            for (row, line) in zip(rows.dropFirst(), lines.dropFirst()) {
                print(row[3] == "*" ? Output.paint(line, .yellow) : line)
            }
            for (name, v) in [(a.rawValue, l.violation), (b.rawValue, r.violation)] {
                if let v { print("\(name): " + Output.paint(v.description, .red)) }
            }
            return
        }
        print(Output.paint("no difference in \(min(left.count, right.count)) steps", .green))
    }

    /// Both sides' fields by name (a field one side lacks shows as '-').
    static func align(_ l: [(String, String)], _ r: [(String, String)]) -> [(String, String, String)] {
        var names = l.map(\.0)
        for (n, _) in r where !names.contains(n) { names.insert(n, at: names.count - 1) }
        let ld = Dictionary(uniqueKeysWithValues: l), rd = Dictionary(uniqueKeysWithValues: r)
        return names.map { ($0, ld[$0] ?? "-", rd[$0] ?? "-") }
    }

    /// Always shown; the other fields only when they differ.
    static let core: Set<String> = ["ran", "exit", "ioctl", "mode", "gif", "efer", "rip", "events.triple_fault", "nested.flags", "violation"]

    /// What userspace can observe after a step, in a fixed order.
    static func fields(_ s: StepObservation) -> [(String, String)] {
        let st = s.state
        func hex(_ v: UInt64) -> String { Output.hex(v) }
        func bit(_ b: Bool) -> String { b ? "1" : "0" }
        let c = st.nested.control, v = st.nested.save
        var out: [(String, String)] = [
            ("ran", s.ran),
            ("exit", s.exit?.description ?? "-"),
            ("ioctl", s.ioctl?.description ?? "-"),
            ("mode", s.mode.description),
            ("gif", bit(s.gif)),
            ("efer", hex(st.sregs.efer)),
            ("cr0", hex(st.sregs.cr0)),
            ("cr2", hex(st.sregs.cr2)),
            ("cr3", hex(st.sregs.cr3)),
            ("cr4", hex(st.sregs.cr4)),
            ("rip", hex(st.regs.rip)),
            ("rsp", hex(st.regs.rsp)),
            ("rax", hex(st.regs.rax)),
            ("rflags", hex(st.regs.rflags)),
            ("hsave_pa", hex(st.msrs.hsavePa)),
            ("events.smm", bit(st.events.smm)),
            ("events.smm_inside_nmi", bit(st.events.smmInsideNmi)),
            ("events.smi_pending", bit(st.events.smiPending)),
            ("events.latched_init", bit(st.events.latchedInit)),
            ("events.triple_fault", bit(st.events.tripleFault)),
            ("nested.flags", hex(UInt64(st.nested.flags))),
            ("nested.vmcb_pa", hex(st.nested.vmcbPa)),
            ("nested.has_data", bit(st.nested.hasData)),
        ]
        if st.nested.hasData {
            out += [
                ("nested.control.intercepts", "\(hex(UInt64(c.intercepts.exceptions)))/\(hex(c.intercepts.misc))"),
                ("nested.control.asid", String(c.asid)),
                ("nested.control.msrpm_base_pa", hex(c.msrpmBasePa)),
                ("nested.control.iopm_base_pa", hex(c.iopmBasePa)),
                ("nested.control.int_ctl", hex(UInt64(c.intCtl))),
                ("nested.control.misc_ctl", hex(c.miscCtl)),
                ("nested.control.nested_cr3", hex(c.nestedCr3)),
                ("nested.control.exit_code", hex(c.exitCode)),
                ("nested.control.exit_info_1", hex(c.exitInfo1)),
                ("nested.control.exit_info_2", hex(c.exitInfo2)),
                ("nested.control.next_rip", hex(c.nextRip)),
                ("nested.save.efer", hex(v.efer)),
                ("nested.save.cr0", hex(v.cr0)),
                ("nested.save.cr2", hex(v.cr2)),
                ("nested.save.cr3", hex(v.cr3)),
                ("nested.save.cr4", hex(v.cr4)),
                ("nested.save.rflags", hex(v.rflags)),
                ("nested.save.rip", hex(v.rip)),
                ("nested.save.rsp", hex(v.rsp)),
                ("nested.save.rax", hex(v.rax)),
                ("nested.save.cpl", String(v.cpl)),
            ]
        }
        out.append(("violation", s.violation.map { $0.id.description } ?? "none"))
        return out
    }
}
