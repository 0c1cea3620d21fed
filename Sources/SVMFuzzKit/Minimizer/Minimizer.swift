// The operation-level minimizer: deletes and simplifies operations while the same invariant still
// fails, down to a program from which no single operation can be removed.

import SVMModel

public enum Minimizer {
    /// Whether `program` still shows the finding: a violation with the same signature (invariant id
    /// and reason, e.g. which ioctl refused which rule), or, when `signature` is nil, any violation.
    public static func reproduces(_ program: Program, variant: Variant?, signature: ViolationCode?) -> Bool {
        let r = Runner.run(program, variant: variant, stopAtFirstViolation: true)
        guard let v = r.violation else { return false }
        return signature == nil || v.code == signature
    }

    /// Minimizes `program` for the violation it shows on `variant` (nil: the program's own config).
    /// Returns nil when the program shows no violation.
    public static func minimize(_ program: Program, variant: Variant?) -> Program? {
        let first = Runner.run(program, variant: variant, stopAtFirstViolation: true)
        guard let v = first.violation else { return nil }
        let id = v.code
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
    static func simplifications(of op: Operation) -> [Operation] { op.spec.simplify(op) }

    /// The image with one field group (control, save) reset to the valid default.
    static func towardsDefault(_ image: Vmcb) -> [Vmcb] {
        let d = DefaultVmcb12.value
        guard image != d else { return [] }
        var a = image; a.control = d.control
        var b = image; b.save = d.save
        return [a, b]
    }

    /// The patch with each of its set fields left out in turn (the codec's field table).
    static func withoutOneField<P: PatchFields>(_ p: P) -> [P] {
        P.fields.indices.compactMap { i in
            guard p[field: i] != nil else { return nil }
            var q = p
            q[field: i] = nil
            return q
        }
    }
}
