// KVM's instruction emulator as a door into the nested state (issue 14 §1). With the module parameter
// kvm.force_emulation_prefix (the door KVM's selftests use), a guest instruction behind the prefix
// `ud2; .ascii "kvm"` reaches KVM through the emulator instead of its own intercept handler: the
// prefix's #UD exits to KVM, handle_ud skips the prefix and x86_emulate_instruction emulates what
// follows, with the emulator's own intercept check for L2 (svm_check_intercept) and its own
// writeback. Modeled for WRMSR, the door into svm_set_efer: em_wrmsr → kvm_emulate_msr_write →
// kvm_set_msr_with_filter → set_efer. What differs from msr_interception: no msr-hook rule (it lives
// in msr_interception), #GP at CPL > 0 before L1's intercept, RIP left at the WRMSR on a fault, and
// the writeback of RIP and RFLAGS (captured before the write) into whatever VMCB is current after it.

extension Vcpu {
    /// A guest instruction behind the forced-emulation prefix, at the running level. `emulated` is
    /// false when the prefix's #UD was delivered instead (the instruction itself never executed).
    public mutating func runForcedEmulation(_ insn: GuestInstruction) -> (handling: ExitHandling, emulated: Bool) {
        beginGuestInstruction(insn)
        if guestMode {
            // The #UD exit (KVM intercepts #UD in every VMCB it runs): L2 ran, then L1's exception
            // intercepts decide (nested_svm_exit_handled, arch/x86/kvm/svm/nested.c).
            vmcb02.control.nextRip = 0                 // no NextRIP for an exception intercept
            vmcb02.control.intState = 0
            svmSyncAfterL2Run()
            let ud = SVMExit.exceptionBase + UInt64(Vector.ud)
            if nested.ctl.intercepts.intercepts(exitCode: ud) {
                vmcb02.control.exitCode = ud
                vmcb02.control.exitInfo1 = 0
                vmcb02.control.exitInfo2 = 0
                nestedSvmVmexit()
                return (.resume, false)
            }
        }
        // handle_ud (arch/x86/kvm/x86.c): without the parameter the UD2 does not decode (EMULTYPE_TRAP_UD)
        // and the guest gets its #UD.
        guard config.forceEmulationPrefix, case .wrmsr(let msr, let value) = insn else {
            kvmQueueException(Vector.ud)
            return (.resume, false)
        }
        rip &+= 5                                      // the prefix is skipped before decoding
        return (x86EmulateWrmsr(msr, value), true)
    }

    /// x86_emulate_insn for WRMSR (arch/x86/kvm/emulate.c) and the writeback of
    /// x86_emulate_instruction (arch/x86/kvm/x86.c).
    private mutating func x86EmulateWrmsr(_ msr: UInt32, _ value: UInt64) -> ExitHandling {
        // init_emulate_ctxt captured RFLAGS from the VMCB current now.
        let eflags = rflags
        let eflagsOwner = current == .vmcb01 ? owners.rflags01 : owners.rflags02
        // Priv: #GP at CPL > 0, before the POST_EXCEPT intercept check.
        if vmcb.save.cpl != 0 {
            kvmQueueException(Vector.gp)
            return .resume
        }
        if guestMode {
            // svm_check_intercept (arch/x86/kvm/svm/svm.c): SVM_EXIT_MSR with EXITINFO1 = 1, NextRIP
            // after the WRMSR; nested_svm_exit_handled reads L1's MSR permission map.
            vmcb02.control.exitCode = SVMExit.msr
            vmcb02.control.exitInfo1 = 1
            vmcb02.control.exitInfo2 = 0
            // Written on a host with NRIPS only, and after svm_vcpu_run synced vmcb02 to the cached
            // vmcb12: when L1 does not intercept, the value stays in vmcb02 alone.
            if config.hostNrips { vmcb02.control.nextRip = rip &+ 2 }
            if nestedSvmExitHandledMsr(msr: msr, write: true) {
                nestedSvmVmexit()
                return .resume                         // EMULATION_INTERCEPTED: no writeback
            }
        }
        // em_wrmsr → kvm_emulate_msr_write → kvm_set_msr_with_filter (a guest write, not host-initiated).
        switch svmSetMsr(msr, value, hostInitiated: false, owner: runningOwner) {
        case .ok:
            // Writeback: toggle_interruptibility, RIP, then __kvm_set_rflags, into the VMCB current after
            // the write (vmcb01 when it forced the vCPU out of L2).
            if svmGetInterruptShadow() {
                svmSetInterruptShadow(false)
                makeRequest(.event)
            }
            rip &+= 2
            kvmSetRflagsQuietly(eflags, owner: eflagsOwner)
            return .resume
        case .fault:
            // emulate_gp: a fault, so no writeback: RIP stays at the WRMSR, after the prefix.
            kvmQueueException(Vector.gp)
            return .resume
        case .error(let e):
            if e == .einval { warn(.setEferPositive) }
            // X86EMUL_UNHANDLEABLE → handle_emulation_failure: #UD, and an exit for L1 at CPL 0.
            kvmQueueException(Vector.ud)
            return guestMode ? .resume : .exitToUserspace(.internalError)
        }
    }
}
