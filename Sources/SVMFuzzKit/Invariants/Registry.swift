// The one list of invariants, grouped by the checkpoint of the step where they are judged and, within
// a checkpoint, in the order their findings take precedence. The executor runs it at each checkpoint;
// the first finding of the step is its violation, except that a root cause (`supersedesEarlier`)
// found at the step's end replaces it.
//
// Written as a switch of direct calls, not as an array of types: on the fuzzer's hot path an array of
// metatypes (or of closures, or a parameter pack) costs witness calls, type metadata or reference
// counting at every checkpoint, measured at a third of the harness's speed.

import SVMModel

public enum InvariantRegistry {
    /// Runs the checks of checkpoint `kind` on the step in progress (`ex.now`); `failed`: the step
    /// already has a violation (only root causes are still looked for). `ex` is inout only to pass it by address (Invariant.check).
    static func check(_ kind: CheckpointKind, _ ex: inout Executor, failed: Bool) -> Violation? {
        switch kind {
        case .entry:
            return run(L1RunsL2State.self, kind, &ex, failed)
        case .exit:
            if let v = run(KvmLivelock.self, kind, &ex, failed) { return v }
            return run(UnrestorableState.self, kind, &ex, failed)
        case .instruction:
            if let v = run(GifChanged.self, kind, &ex, failed) { return v }
            if let v = run(HsavePaRules.self, kind, &ex, failed) { return v }
            if let v = run(InterceptNotReflected.self, kind, &ex, failed) { return v }
            if let v = run(VmrunOutcome.self, kind, &ex, failed) { return v }
            if let v = run(RsmShutdown.self, kind, &ex, failed) { return v }
            return run(SvmInsnOutcome.self, kind, &ex, failed)
        case .ioctl:
            if let v = run(IoctlAcceptsInvalid.self, kind, &ex, failed) { return v }
            if let v = run(SpuriousTripleFault.self, kind, &ex, failed) { return v }
            return run(RestoreMismatch.self, kind, &ex, failed)
        case .step:
            if let v = run(SmmL1State.self, kind, &ex, failed) { return v }
            if let v = run(KvmWarn.self, kind, &ex, failed) { return v }
            if let v = run(InconsistentState.self, kind, &ex, failed) { return v }
            if let v = run(Vmcb12Unchecked.self, kind, &ex, failed) { return v }
            if let v = run(VmexitRestoresL1.self, kind, &ex, failed) { return v }
            if let v = run(ExitRouting.self, kind, &ex, failed) { return v }
            return run(L2EntryOvertaken.self, kind, &ex, failed)
        }
    }

    @inline(__always)
    private static func run<I: Invariant>(_ inv: I.Type, _ kind: CheckpointKind, _ ex: inout Executor,
                                          _ failed: Bool) -> Violation? {
        assert(I.checkpoint == kind, "\(I.family) is listed under the wrong checkpoint")
        guard !failed || I.supersedesEarlier, let f = I.check(&ex) else { return nil }
        return Violation(id: f.id, step: ex.now.record.step, line: ex.now.record.line, detail: f.detail, reason: f.reason)
    }
}
