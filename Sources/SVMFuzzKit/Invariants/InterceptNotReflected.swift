// intercept-not-reflected (bug zoo INV-MODE / INV-FAIL): an instruction L2 executes that vmcb12
// intercepts ends L2: the vCPU is back in L1 (or L1 is shut down).
//
// APM vol. 2, 15.9 "Instruction Intercepts" and 15.6 "#VMEXIT": an intercepted instruction in the
// guest causes a #VMEXIT to the host (here L1, whose intercepts KVM honours for L2); KVM's nested
// #VMEXIT either completes (leave_guest_mode, vmcb01) or, when it cannot write vmcb12 or restore
// L1's CR3, still completes and shuts L1 down. Either way the vCPU leaves guest mode. The
// instructions checked are those whose intercept bit alone decides, and WRMSR through L1's MSR
// permission map (15.11, with MSR_PROT set; the bit test is exit-routing's) at CPL 0 (at CPL > 0
// its #GP comes before the intercept); not RSM, whose #UD is delivered at the next entry; not
// VMRUN/VMLOAD/VMSAVE of an address a CPU with SVME_ADDR_CHK #GPs before the intercept (as QEMU's
// TCG does, GuestInstruction.swift).
// exit-routing is the converse: no #VMEXIT that L1 did not ask for.

import SVMModel

enum InterceptNotReflected: Invariant {
    static let family = InvariantFamily.interceptNotReflected
    static let justification = "APM vol. 2, 15.9 and 15.6: an instruction the guest's intercepts name causes a #VMEXIT"
    static let checkpoint = CheckpointKind.instruction

    static func check(_ ex: inout Executor) -> CheckFailure? {
        let f = ex.now.instruction.before
        if case .wrmsr(let msr, _) = ex.now.instruction.insn {
            guard f.mode == .l2, f.cpl == 0, f.intercepts.contains(.msrProt), ex.vcpu.guestMode,
                  ExitRouting.l1InterceptsMsrWrite(msr, mapAt: ex.vcpu.nested.ctl.msrpmBasePa, &ex) else { return nil }
            return CheckFailure(.interceptNotReflected, ex.quiet ? "" :
                                "L2 wrote MSR 0x\(String(msr, radix: 16)), which L1's MSR permission map intercepts, and is still in guest mode")
        }
        switch ex.now.instruction.insn {
        case .vmrun(let gpa), .vmload(let gpa), .vmsave(let gpa):
            if ex.config.hostSvmeAddrChk && f.cr0 & CR0.pe != 0 && !ex.config.cpu.pageAddressValid(gpa) { return nil }
        default: break
        }
        guard let d = check(ex.now.instruction.insn, mode: f.mode, intercepts: f.intercepts, after: ex.vcpu) else { return nil }
        return CheckFailure(.interceptNotReflected, d)
    }

    static func isChecked(_ insn: GuestInstruction) -> Bool {
        switch insn {
        case .vmrun, .vmmcall, .stgi, .clgi, .vmload, .vmsave, .tripleFault: return true
        case .wrmsr, .rsm: return false
        }
    }

    /// `intercepts`: vmcb12's intercepts (svm->nested.ctl) before L2 ran `insn`.
    static func check(_ insn: GuestInstruction, mode: Mode, intercepts: InterceptSet, after v: Vcpu) -> String? {
        guard mode == .l2, isChecked(insn), intercepts.intercepts(exitCode: insn.exitCode), v.guestMode else { return nil }
        return "L2 executed \(SVMText.line(.guest(insn))), which vmcb12 intercepts, and is still in guest mode"
    }
}
