// The operation-level minimizer: deletes and simplifies operations while the same invariant still
// fails, down to a program from which no single operation can be removed.

import SVMModel

public enum Minimizer {
    /// Whether `program` still shows the finding: a violation with the same signature (invariant id
    /// and reason, e.g. which ioctl refused which rule), or, when `signature` is nil, any violation.
    public static func reproduces(_ program: Program, variant: Variant?, signature: String?) -> Bool {
        let r = Runner.run(program, variant: variant, stopAtFirstViolation: true)
        guard let v = r.violation else { return false }
        return signature == nil || v.signature == signature
    }

    /// Minimizes `program` for the violation it shows on `variant` (nil: the program's own config).
    /// Returns nil when the program shows no violation.
    public static func minimize(_ program: Program, variant: Variant?) -> Program? {
        let first = Runner.run(program, variant: variant, stopAtFirstViolation: true)
        guard let v = first.violation else { return nil }
        let id = v.signature
        // Drop expects and everything after the violating step.
        var ops = Array(program.operations.prefix(v.step)).filter {
            if case .expect = $0 { return false }
            return true
        }
        var p = Program(config: program.config, operations: ops)
        if !reproduces(p, variant: variant, signature: id) { p = program }
        ops = p.operations

        var changed = true
        while changed {
            changed = false
            // Delete single operations, from the end (later operations depend on earlier ones).
            var i = ops.count - 1
            while i >= 0 {
                var candidate = ops
                candidate.remove(at: i)
                if reproduces(Program(config: p.config, operations: candidate), variant: variant, signature: id) {
                    ops = candidate
                    changed = true
                }
                i -= 1
            }
            // Simplify what remains, one operation at a time.
            for j in ops.indices {
                for simpler in simplifications(of: ops[j]) where simpler != ops[j] {
                    var candidate = ops
                    candidate[j] = simpler
                    if reproduces(Program(config: p.config, operations: candidate), variant: variant, signature: id) {
                        ops = candidate
                        changed = true
                        break
                    }
                }
            }
        }
        return Program(config: p.config, operations: ops)
    }

    /// Smaller forms of an operation: fewer fields set, default vmcb12 fields, QEMU's restore order.
    static func simplifications(of op: Operation) -> [Operation] {
        var out: [Operation] = []
        switch op {
        case .vmcb(let gpa, let image):
            let d = DefaultVmcb12.value
            if image != d {
                // Reset one field group at a time to the valid default.
                var a = image; a.control = d.control
                var b = image; b.save = d.save
                out += [.vmcb(gpa: gpa, a), .vmcb(gpa: gpa, b)]
            }
        case .restore(let slot, let order) where order != .qemu:
            out.append(.restore(slot, .qemu))
        case .setSregs(let p):
            if p.efer != nil { var q = p; q.efer = nil; out.append(.setSregs(q)) }
            if p.cr0 != nil { var q = p; q.cr0 = nil; out.append(.setSregs(q)) }
            if p.cr2 != nil { var q = p; q.cr2 = nil; out.append(.setSregs(q)) }
            if p.cr3 != nil { var q = p; q.cr3 = nil; out.append(.setSregs(q)) }
            if p.cr4 != nil { var q = p; q.cr4 = nil; out.append(.setSregs(q)) }
        case .setRegs(let p):
            if p.rip != nil { var q = p; q.rip = nil; out.append(.setRegs(q)) }
            if p.rsp != nil { var q = p; q.rsp = nil; out.append(.setRegs(q)) }
            if p.rax != nil { var q = p; q.rax = nil; out.append(.setRegs(q)) }
            if p.rflags != nil { var q = p; q.rflags = nil; out.append(.setRegs(q)) }
        case .setMsrs(let p):
            if p.efer != nil { var q = p; q.efer = nil; out.append(.setMsrs(q)) }
            if p.hsavePa != nil { var q = p; q.hsavePa = nil; out.append(.setMsrs(q)) }
            if p.vmCr != nil { var q = p; q.vmCr = nil; out.append(.setMsrs(q)) }
        case .setVcpuEvents(let p):
            if p.smm != nil { var q = p; q.smm = nil; out.append(.setVcpuEvents(q)) }
            if p.smiPending != nil { var q = p; q.smiPending = nil; out.append(.setVcpuEvents(q)) }
            if p.latchedInit != nil { var q = p; q.latchedInit = nil; out.append(.setVcpuEvents(q)) }
            if p.tripleFault != nil { var q = p; q.tripleFault = nil; out.append(.setVcpuEvents(q)) }
        case .setNestedState(let slot, let flags, let pa):
            if flags != nil { out.append(.setNestedState(slot, flags: nil, vmcbPa: pa)) }
            if pa != nil { out.append(.setNestedState(slot, flags: flags, vmcbPa: nil)) }
        default:
            break
        }
        return out
    }
}
