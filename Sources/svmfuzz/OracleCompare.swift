// Model versus real KVM, step by step: the fields both sides can observe, normalized so that what
// only one side has (the runner's doorbell exits, the model's abstract RIP values) is not compared.

import Foundation
import SVMFuzzKit
import SVMModel

/// One step record of the real-KVM runner (Sources/svmfuzz-kvm/PLAN.md).
struct KernelRecord: Decodable {
    var step: Int?
    var line: Int?
    var op: String?
    var ran: String?
    var exit: String?
    var ioctl: String?
    var exc: Int?
    var mode: String?
    var gif: Int?
    var run_pending: Int?
    var smm: Int?
    var rip: String?
    var rip_owner: String?
    var efer: String?
    var cr0: String?
    var cr3: String?
    var cr4: String?
    var hsave_pa: String?
    var vm_cr: String?
    var nested_flags: String?
    var vmcb_pa: String?
    var triple_fault: Int?
    var smi_pending: Int?
    var latched_init: Int?
    var vmcb12_exit: String?
    // Header and trailer lines.
    var program: String?
    var kernel: String?
    var params: String?
    var end: String?
    var warnings: [String]?
    var note: String?
    var error: String?
}

/// What the runner printed for one program.
struct KernelRun {
    var kernel = ""
    var params = ""
    var steps: [KernelRecord] = []
    var warnings: [String] = []
    var notes: [String] = []
    var ended = false

    /// Parses the JSON lines of one program (`<plan>.jsonl`); lines that are not JSON are ignored.
    static func parse(_ text: String) -> KernelRun {
        var run = KernelRun()
        let decoder = JSONDecoder()
        for line in text.split(separator: "\n") where line.hasPrefix("{") {
            guard let r = try? decoder.decode(KernelRecord.self, from: Data(line.utf8)) else { continue }
            if r.program != nil { run.kernel = r.kernel ?? ""; run.params = r.params ?? "" }
            if r.step != nil { run.steps.append(r) }
            if r.end != nil { run.ended = true; run.warnings = r.warnings ?? [] }
            if let n = r.note ?? r.error { run.notes.append(n) }
        }
        return run
    }
}

/// The first field where model and kernel differ.
struct OracleDifference: Equatable {
    var step: Int
    var line: Int
    var operation: String
    var field: String
    var model: String
    var kernel: String
}

enum OracleCompare {
    /// The fields compared at every step, in report order.
    static let fieldNames = ["ran", "exit", "ioctl", "exc", "mode", "gif", "run_pending", "rip_owner", "efer", "cr0",
                             "cr3", "cr4", "hsave_pa", "vmcb_pa", "triple_fault", "smi_pending", "latched_init",
                             "vmcb12_exit"]

    /// The first difference, or nil when every step agrees. `unsupported` is set when the runner could
    /// not play a step (comparison stops there).
    /// `ignoring`: fields a known runner or TCG limit makes meaningless for this program.
    static func firstDifference(model: [StepObservation], kernel: KernelRun,
                                ignoring: Set<String> = []) -> (OracleDifference?, unsupported: Int?) {
        for ((m, mf), k) in zip(zip(model, modelFields(model)), kernel.steps) {
            if k.ran == "unsupported" { return (nil, m.step) }
            let kf = kernelFields(k, m)
            for name in fieldNames where !ignoring.contains(name) {
                guard let a = mf[name], let b = kf[name], a != b else { continue }
                return (OracleDifference(step: m.step, line: m.line, operation: m.text, field: name, model: a, kernel: b), nil)
            }
        }
        if kernel.steps.count < model.count, let m = model.dropFirst(kernel.steps.count).first {
            return (OracleDifference(step: m.step, line: m.line, operation: m.text, field: "record", model: "present",
                                     kernel: "missing (runner stopped)"), nil)
        }
        return (nil, nil)
    }

    /// The model's side for every step of a program. The model's RIP owner says whose value RIP holds,
    /// the runner's says whose code copy RIP is in; they part once L1 runs on a RIP L2 left (a forced
    /// leave without a #VMEXIT, or userspace leaving nested: L1 then runs the L2 copy, and a later
    /// #VMEXIT restores that address as L1's own value). The step that shows it is compared (both say
    /// `l2` there: the l1-runs-l2-state evidence); after it RIP's owner is not.
    static func modelFields(_ steps: [StepObservation]) -> [[String: String]] {
        var l1OnL2Code = false
        var previous: Mode? = nil
        return steps.map { m in
            var f = modelFields(m)
            if l1OnL2Code { f["rip_owner"] = nil }
            // L2's RIP left to L1: still L2's (a forced leave), or the host's after userspace left nested.
            if m.mode == .l1, let o = m.owners.first, o == .l2 || (o == .host && previous == .l2) { l1OnL2Code = true }
            previous = m.mode
            return f
        }
    }

    /// The model's side of one step. A field left out is not compared at this step.
    static func modelFields(_ m: StepObservation) -> [String: String] {
        var f: [String: String] = [:]
        let s = m.state
        f["mode"] = m.mode.description
        f["gif"] = m.gif ? "1" : "0"
        f["run_pending"] = s.nested.flags & NestedFlag.runPending != 0 ? "1" : "0"
        f["efer"] = Output.hex(s.sregs.efer)
        f["cr0"] = Output.hex(m.cr0AfterExit)
        // The runner's state always follows an exit (its doorbell) or an ioctl after one.
        f["cr3"] = Output.hex(m.cr3AfterExit)
        f["cr4"] = Output.hex(s.sregs.cr4)
        f["hsave_pa"] = Output.hex(s.msrs.hsavePa)
        if m.mode == .l2 { f["vmcb_pa"] = Output.hex(s.nested.vmcbPa) }
        f["triple_fault"] = s.events.tripleFault ? "1" : "0"
        f["smi_pending"] = s.events.smiPending ? "1" : "0"
        f["latched_init"] = s.events.latchedInit ? "1" : "0"
        f["vmcb12_exit"] = m.vmcb12Exit
        // Whose code runs, outside SMM: the model's RIP owner (host: userspace put it; not comparable).
        if m.mode != .smm, let o = m.owners.first, o != .host {
            f["rip_owner"] = o.description
        }
        switch m.operation {
        case .guest, .emulate:
            f["ran"] = m.ran == "none" ? nil : m.ran
            if !m.skipped {
                f["exit"] = m.exit.map(\.description) ?? "none"
                // An emulation failure queues #UD and exits to userspace: the guest never receives it in
                // this step, and the runner reports only delivered exceptions.
                f["exc"] = (m.exit == .internalError ? nil : m.exception).map { String($0) } ?? "-1"
            }
        case .run:
            f["exit"] = m.exit.map(\.description) ?? "none"
            // The exception its entry delivered (one userspace queued, or one left from a stopped run).
            f["exc"] = m.exception.map { String($0) } ?? "-1"
        case .smi, .initSignal:
            f["exit"] = m.exit.map(\.description) ?? "none"
        case .runWith:
            // KVM_RUN's own result too: -EINVAL from a refused sync block.
            f["exit"] = m.exit.map(\.description) ?? "none"
            f["ioctl"] = m.ioctl?.description
            f["exc"] = m.exception.map { String($0) } ?? "-1"
        case .setSregs, .setRegs, .setMsrs, .setNestedState, .setVcpuEvents, .snapshot, .restore, .reset:
            f["ioctl"] = m.ioctl?.description
        default:
            break
        }
        // The runner sees exceptions through its IDT stubs, which SMM code does not use; vectors from 32
        // up are interrupts (an EVENTINJ of type INTR), which the kernel's side does not count either.
        if m.mode == .smm { f["exc"] = nil }
        if let e = f["exc"], let v = Int(e), v >= 32 { f["exc"] = "-1" }
        return f
    }

    /// The kernel's side, normalized to the model's vocabulary.
    static func kernelFields(_ k: KernelRecord, _ m: StepObservation) -> [String: String] {
        var f: [String: String] = [:]
        f["mode"] = k.mode
        f["gif"] = k.gif.map(String.init)
        f["run_pending"] = k.run_pending.map(String.init)
        f["efer"] = k.efer.map(canonicalHex)
        f["cr0"] = k.cr0.map(canonicalHex)
        f["cr3"] = k.cr3.map(canonicalHex)
        f["cr4"] = k.cr4.map(canonicalHex)
        f["hsave_pa"] = k.hsave_pa.map(canonicalHex)
        f["vmcb_pa"] = k.vmcb_pa.map(canonicalHex)
        f["triple_fault"] = k.triple_fault.map(String.init)
        f["smi_pending"] = k.smi_pending.map(String.init)
        f["latched_init"] = k.latched_init.map(String.init)
        f["vmcb12_exit"] = k.vmcb12_exit.map { $0 == "-" ? "-" : canonicalHex($0) }
        if k.mode != "smm", let o = k.rip_owner, ["l1", "l2"].contains(o) { f["rip_owner"] = o }
        switch m.operation {
        case .guest, .emulate:
            f["ran"] = k.ran
            if k.ran != "skipped" {
                f["exit"] = k.exit == "-" ? "none" : k.exit
                // Vectors from 32 up are interrupts (an injected IRQ), not exceptions.
                f["exc"] = k.exc.map { $0 >= 32 ? "-1" : String($0) }
            }
        case .run:
            f["exit"] = k.exit == "-" ? "none" : k.exit
            f["exc"] = k.exc.map { $0 >= 32 ? "-1" : String($0) }
        case .smi, .initSignal:
            f["exit"] = k.exit == "-" ? "none" : k.exit
        case .runWith:
            f["exit"] = k.exit == "-" ? "none" : k.exit
            f["ioctl"] = k.ioctl
            f["exc"] = k.exc.map { $0 >= 32 ? "-1" : String($0) }
        default:
            f["ioctl"] = k.ioctl
        }
        return f
    }

    /// "0x00FF" and "255" both as "0xff".
    static func canonicalHex(_ s: String) -> String {
        let t = s.lowercased()
        let v = t.hasPrefix("0x") ? UInt64(t.dropFirst(2), radix: 16) : UInt64(t)
        return v.map(Output.hex) ?? s
    }
}
