// The one list of invariants, in the order their findings take precedence within a checkpoint. The
// executor runs it at each checkpoint of a step; the first finding of the step is its violation,
// except that a root cause (`supersedesEarlier`) found at the step's end replaces it.

import SVMModel

public enum InvariantRegistry {
    /// A parameter pack rather than an array of metatypes: each check is called statically (and can
    /// be inlined), which keeps the executor's hot path free of witness-table calls.
    static let list = InvariantList(
        L1RunsL2State.self,         // entry
        UnrestorableState.self,     // exit
        GifChanged.self,            // instruction
        HsavePaRules.self,
        InterceptNotReflected.self,
        VmrunOutcome.self,
        IoctlAcceptsInvalid.self,   // ioctl
        SpuriousTripleFault.self,
        RestoreMismatch.self,
        SmmL1State.self,            // step
        KvmWarn.self,
        InconsistentState.self,
        Vmcb12Unchecked.self
    )

    /// Every invariant family, in registry order.
    public static var families: [InvariantFamily] { list.families }

    /// Runs the checks of checkpoint `kind` on the step in progress (`ex.now`); `found` is the step's
    /// violation so far. `ex` is inout only to pass it by address (Invariant.check).
    @inline(__always)
    static func check(_ kind: CheckpointKind, _ ex: inout Executor, found: Violation?) -> Violation? {
        list.check(kind, &ex, found: found)
    }
}

struct InvariantList<each I: Invariant>: Sendable {
    init(_ types: repeat (each I).Type) {}

    var families: [InvariantFamily] {
        var out: [InvariantFamily] = []
        for t in repeat (each I).self { out.append(t.family) }
        return out
    }

    @inline(__always)
    func check(_ kind: CheckpointKind, _ ex: inout Executor, found: Violation?) -> Violation? {
        for inv in repeat (each I).self {
            if inv.checkpoint == kind && (found == nil || inv.supersedesEarlier), let f = inv.check(&ex) {
                return Violation(id: f.id, step: ex.now.record.step, line: ex.now.record.line, detail: f.detail,
                                 reason: f.reason)
            }
        }
        return nil
    }
}
