// The one list of invariants, in the order their findings take precedence within a checkpoint. The
// executor runs it at each checkpoint of a step; the first finding of the step is its violation,
// except that a root cause (`supersedesEarlier`) found at the step's end replaces it.

import SVMModel

public enum InvariantRegistry {
    public static let all: [any Invariant.Type] = [
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
        Vmcb12Unchecked.self,
    ]

    /// Runs the checks of `input.point`; `found` is the step's violation so far.
    static func check(_ input: CheckInput, _ ex: Executor, found: Violation?) -> Violation? {
        let kind = input.point.kind
        for inv in all where inv.checkpoint == kind {
            if found != nil && !inv.supersedesEarlier { continue }
            if let f = inv.check(input, ex) {
                return Violation(id: f.id, step: input.record.step, line: input.record.line, detail: f.detail,
                                 reason: f.reason)
            }
        }
        return nil
    }
}
