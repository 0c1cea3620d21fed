// rsm-shutdown (bug zoo INV-SMM's RSM clause, the "RSM failed" half of INV-SHUT): an RSM that fails
// shuts down the level that owns SMM, never L2: after it the vCPU is not in guest mode.
//
// AMD APM vol. 2, chapter 10 (System-Management Mode): "An RSM causes a processor shutdown if an
// invalid-state condition is found in the SMRAM state-save area." The APM has no shutdown in guest
// mode for RSM, and on Intel the SDM's RSM pseudocode loads the saved state before it re-enters VMX
// non-root operation: the shutdown comes before the return to the guest, whatever state was invalid.
// So a failed RSM is L1's shutdown (KVM_EXIT_SHUTDOWN for the VMM), not an L2 triple fault that L1
// could turn into #VMEXIT(SHUTDOWN) or that leaves guest mode set. KVM emulates RSM into L2 by
// entering guest mode before loading SMRAM (emulator_leave_smm calls svm_leave_smm, whose
// enter_svm_guest_mode runs first), and states the contract itself where loading the state fails: "If
// RSM fails and triggers shutdown, architecturally the shutdown occurs *before* the transition to
// guest mode" (arch/x86/kvm/smm.c, 3f6821aa147b, which forcibly leaves nested there).
//
// Judged at SMM code's RSM (the forced-emulation door's is not judged at the instruction checkpoint):
// em_rsm raises a triple fault exactly when emulator_leave_smm fails, so one pending after the RSM
// that was not pending before it is the failure. The reason says where it stopped: `rsm:l2-entry`,
// svm_leave_smm's entry into L2 itself failed (nested_run_pending never set: KVM returns without
// leaving guest mode, acknowledged upstream, corpus/known-issues.txt), or `rsm:smram-state`, L2 was
// re-entered and then the SMRAM registers were refused.

import SVMModel

/// Where a failed RSM into L2 stopped.
public enum RsmFailure: String, Sendable, CaseIterable {
    case l2Entry = "l2-entry"
    case smramState = "smram-state"
}

enum RsmShutdown: Invariant {
    static let family = InvariantFamily.rsmShutdown
    static let justification = "APM vol. 2, ch. 10: an RSM that finds invalid SMRAM state shuts the processor down, before any return to a guest (KVM: 3f6821aa147b)"
    static let checkpoint = CheckpointKind.instruction

    static func check(_ ex: inout Executor) -> CheckFailure? {
        let f = ex.now.instruction
        guard failed(f.insn, before: f.before, tripleFaultAfter: ex.vcpu.requests.contains(.tripleFault)),
              ex.vcpu.guestMode else { return nil }
        let stage: RsmFailure = ex.vcpu.nestedRunPending == 0 ? .l2Entry : .smramState
        return CheckFailure(.rsmShutdown, ex.quiet ? "" : "RSM failed (\(stage == .l2Entry ? "re-entering L2" : "loading the SMRAM state into L2"))"
                            + " and left the vCPU in guest mode: the shutdown is L2's, not L1's", reason: .rsm(stage))
    }

    /// Whether `insn`, run in SMM with no triple fault pending, failed: em_rsm made one pending.
    static func failed(_ insn: GuestInstruction, before: StateBefore, tripleFaultAfter: Bool) -> Bool {
        guard case .rsm = insn, before.mode == .smm, !before.tripleFault else { return false }
        return tripleFaultAfter
    }
}
