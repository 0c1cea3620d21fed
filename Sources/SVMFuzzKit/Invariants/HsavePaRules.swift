// hsave-pa-rules (bug zoo INV-ABI, VM_HSAVE_PA rules).
//
// APM vol. 2, 15.30.4 "VM_HSAVE_PA MSR": the host save area address must be page-aligned and a
// legal physical address; a WRMSR of anything else raises #GP. KVM (Documentation and
// nested_svm_vmrun) treats a zero VM_HSAVE_PA as unset: a VMRUN attempted while it is 0 fails with
// #GP(0), so it can neither enter L2 nor produce a #VMEXIT. Userspace (host-initiated) writes are
// not guest WRMSRs and are not covered.

import SVMModel

enum HsavePaRules: Invariant {
    static let family = InvariantFamily.hsavePaRules
    static let justification = "APM vol. 2, 15.30.4: WRMSR(VM_HSAVE_PA) of an unaligned or illegal address #GPs; KVM: VMRUN with VM_HSAVE_PA 0 #GPs"
    static let checkpoint = CheckpointKind.instruction

    static func check(_ ex: inout Executor) -> CheckFailure? {
        let f = ex.now.instruction.before
        guard let d = check(ex.now.instruction.insn, mode: f.mode, hsaveBefore: f.hsaveMsr, record: ex.now.record,
                            after: ex.vcpu) else { return nil }
        return CheckFailure(.hsavePaRules, d)
    }

    /// After a guest instruction run outside guest mode: `hsaveBefore` is VM_HSAVE_PA before it.
    static func check(_ insn: GuestInstruction, mode: Mode, hsaveBefore: UInt64, record r: StepRecord, after v: Vcpu) -> String? {
        guard mode != .l2 else { return nil }
        switch insn {
        case .wrmsr(let msr, let value) where msr == MSR.vmHsavePa:
            if !v.config.cpu.pageAddressValid(value) && r.injected != Vector.gp {
                return "WRMSR(VM_HSAVE_PA, 0x\(String(value, radix: 16))) did not raise #GP"
            }
        case .vmrun:
            if hsaveBefore == 0 && (v.guestMode || r.vmexitCode != nil) {
                return "VMRUN with VM_HSAVE_PA = 0 \(v.guestMode ? "entered L2" : "ended in a #VMEXIT") instead of #GP"
            }
        default:
            break
        }
        return nil
    }
}
