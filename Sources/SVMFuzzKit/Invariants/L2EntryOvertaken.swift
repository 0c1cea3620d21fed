// l2-entry-overtaken: once KVM has emulated an entry into L2 (VMRUN, an RSM that returns into L2,
// KVM_SET_NESTED_STATE with RUN_PENDING), the CPU enters L2 before KVM synthesizes any nested #VMEXIT
// or delivers anything to L1.
//
// Architecturally VMRUN is one instruction that ends with the guest running (AMD APM vol. 2, 15.5
// "VMRUN"): an intercept, an interrupt, INIT or SMI is recognized only once the guest runs, so no
// #VMEXIT and no event for the host can come between VMRUN and the guest's start; RSM into a guest
// resumes it the same way. KVM emulates the entry in two parts (the instruction, then its own
// hardware VMRUN of vmcb02) and states the contract as nested_run_pending: while it is set, KVM holds
// back INIT, SMI and exceptions L1 intercepts (svm_check_nested_events, svm_smi_allowed), and
// nested_svm_vmexit WARNs if it is set (kvm_warn_on_nested_run_pending, arch/x86/kvm/x86.h). That
// WARN catches the breach only at that one site and only while the value is KVM_NESTED_RUN_PENDING;
// this invariant watches what L1 gets: any nested #VMEXIT, and an INIT reset, while an emulated entry
// the CPU has not made is pending (the core's observable `l2EntryOvertaken`). A forced leave
// (svm_leave_nested) abandons the entry and is not L1 getting anything: userspace's SET ioctls, or a
// failing RSM that then shuts L1 down (3f6821aa147b).
//
// Accepted, KVM's documented contract (kvm-x86 2026-03, nested_run_pending becomes a u8 with
// KVM_NESTED_RUN_PENDING_UNTRUSTED): once userspace has had the vCPU since the entry was emulated (a
// KVM_RUN began after it, or it came from KVM_SET_NESTED_STATE), KVM no longer vouches for it, and a
// triple fault then made pending (nested_svm_triple_fault is not gated on nested_run_pending) becomes
// #VMEXIT(SHUTDOWN) before L2 runs (InvariantTests.testUntrustedRunPendingTripleFaultDoesNotWarn).

import SVMModel

enum L2EntryOvertaken: Invariant {
    static let family = InvariantFamily.l2EntryOvertaken
    static let justification = "APM vol. 2, 15.5: VMRUN ends with the guest running; KVM's nested_run_pending contract (kvm_warn_on_nested_run_pending)"
    static let checkpoint = CheckpointKind.step

    static func check(_ ex: inout Executor) -> CheckFailure? {
        guard case .some = ex.vcpu.l2EntryOvertaken, let o = ex.vcpu.l2EntryOvertaken else { return nil }
        if o.entry.userspaceHadControl && o.vmexitCode == SVMExit.shutdown { return nil }
        let what = o.vmexitCode.map { "synthesized #VMEXIT 0x\(String($0, radix: 16))" } ?? "reset the vCPU for an INIT"
        return CheckFailure(.l2EntryOvertaken, ex.quiet ? "" :
                            "after emulating \(o.entry.source), KVM \(what) before the CPU entered L2")
    }
}
