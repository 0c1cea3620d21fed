// KVM's instruction emulator as a door into the nested state (issue 14 §1). With the module parameter
// kvm.force_emulation_prefix (the door KVM's selftests use), a guest instruction behind the prefix
// `ud2; .ascii "kvm"` reaches KVM through the emulator instead of its own intercept handler: the
// prefix's #UD exits to KVM, handle_ud skips the prefix and x86_emulate_instruction emulates what
// follows, with the emulator's own intercept check for L2 (svm_check_intercept) and its own
// writeback.
// - WRMSR, the door into svm_set_efer: em_wrmsr → kvm_emulate_msr_write → kvm_set_msr_with_filter →
//   set_efer. What differs from msr_interception: no msr-hook rule (it lives in msr_interception), #GP
//   at CPL > 0 before L1's intercept, RIP left at the WRMSR on a fault, and the writeback of RIP and
//   RFLAGS (captured before the write) into whatever VMCB is current after it.
// - VMRUN, VMLOAD, VMSAVE, STGI, CLGI (group7_rm3 of the emulator's opcode table): entries with
//   permission checks and an intercept but no execute callback. Real mode #UD, CPL > 0 #GP, then
//   check_svme_pa (rAX bits 63:48 → #GP, before the EFER.SVME test) or check_svme (EFER.SVME clear →
//   #UD; no paging test, unlike nested_svm_check_permissions), then in L2 the POST_EXCEPT intercept
//   check with the instruction's own exit code. Past all that the emulator cannot emulate them:
//   handle_emulation_failure queues #UD, and for L1 (CPL 0 here) exits to userspace with an
//   emulation failure. So an emulated VMRUN never enters L2, and L2's unintercepted VMLOAD is #UD.
// - VMMCALL: em_hypercall (no CPL check). In L2 the POST_EXCEPT intercept check; otherwise
//   fix_hypercall rewrites the instruction in place and leaves RIP at it, so the guest runs the
//   native VMMCALL next (KVM_X86_QUIRK_FIX_HYPERCALL_INSN, on by default).
// - RSM: em_rsm. In L2 the PRE_EXCEPT intercept check (SVM_EXIT_RSM) comes first; then #UD outside
//   SMM, and in SMM leave_smm as for the intercepted RSM (rsm_interception uses the emulator too).

extension Vcpu {
    /// A guest instruction behind the forced-emulation prefix, at the running level. `emulated` is
    /// false when the prefix's #UD was delivered instead (the instruction itself never executed), and
    /// for the SVM instructions and RSM, whose emulated path skips what the intercepted one does (the
    /// instruction checks are written for the latter: an emulated VMRUN never enters L2, and the
    /// emulator's CPL and EFER.SVME checks come before L1's intercept).
    public mutating func runForcedEmulation(_ insn: GuestInstruction) -> (handling: ExitHandling, emulated: Bool) {
        beginGuestInstruction(insn)
        if guestMode {
            // The #UD exit (KVM intercepts #UD in every VMCB it runs): L2 ran. vmcb01 intercepts #UD,
            // so nested_svm_exit_special keeps the exit for L0 whatever L1 intercepts (real 6.12.117
            // and 6.1.192 emulate the prefixed instruction in L2 with L1 intercepting #UD); a #UD that
            // L0 then queues goes to L1 if it intercepts #UD, as any queued exception.
            vmcb02.control.nextRip = 0                 // no NextRIP for an exception intercept
            vmcb02.control.intState = 0
            svmSyncAfterL2Run()
        }
        // handle_ud (arch/x86/kvm/x86.c): without the parameter the UD2 does not decode (EMULTYPE_TRAP_UD)
        // and the guest gets its #UD.
        guard config.forceEmulationPrefix, insn != .tripleFault else {
            kvmQueueException(Vector.ud)
            return (.resume, false)
        }
        rip &+= 5                                      // the prefix is skipped before decoding
        switch insn {
        case .wrmsr(let msr, let value): return (x86EmulateWrmsr(msr, value), true)
        case .rsm: return (x86EmulateRsm(), false)
        case .vmmcall: return (x86EmulateVmmcall(), false)
        default: return (x86EmulateSvmInsn(insn), false)
        }
    }

    /// The emulator's protected-mode requirement (the `Prot` flag): real mode and virtual-8086 mode
    /// are below X86EMUL_MODE_PROT16 (x86_emulate_insn, arch/x86/kvm/emulate.c).
    private var emulatorModeIsProtected: Bool { cr0 & CR0.pe != 0 && rflags & RFLAGS.vm == 0 }

    /// svm_check_intercept (arch/x86/kvm/svm/svm.c) at the stage the instruction's entry of
    /// x86_intercept_map names, for L2: the exit code (and NextRIP after the instruction, with host
    /// NRIPS) go into vmcb02 whether or not L1 intercepts; nested_svm_exit_handled decides, through
    /// L1's MSR permission map for WRMSR. EXITINFO1 is 1 for WRMSR (a write), otherwise what the
    /// prefix's #UD exit wrote (no error code: zero). NextRIP is written after svm_vcpu_run synced
    /// vmcb02 to the cached vmcb12: when L1 does not intercept, the value stays in vmcb02 alone. True
    /// when the #VMEXIT to L1 was synthesized.
    private mutating func emulatorCheckInterceptL2(_ insn: GuestInstruction) -> Bool {
        vmcb02.control.exitCode = insn.exitCode
        vmcb02.control.exitInfo2 = 0
        if config.hostNrips { vmcb02.control.nextRip = rip &+ insn.length }
        let handled: Bool
        if case .wrmsr(let msr, _) = insn {
            vmcb02.control.exitInfo1 = 1
            handled = nestedSvmExitHandledMsr(msr: msr, write: true)
        } else {
            vmcb02.control.exitInfo1 = 0
            handled = nested.ctl.intercepts.intercepts(exitCode: insn.exitCode)
        }
        guard handled else { return false }
        nestedSvmVmexit()
        return true                                    // EMULATION_INTERCEPTED: no writeback
    }

    /// x86_emulate_insn for VMRUN, VMLOAD, VMSAVE, STGI and CLGI (group7_rm3, arch/x86/kvm/emulate.c):
    /// checks and the intercept only, then handle_emulation_failure (arch/x86/kvm/x86.c).
    private mutating func x86EmulateSvmInsn(_ insn: GuestInstruction) -> ExitHandling {
        // Prot, then Priv: faults leave RIP at the instruction (after the prefix).
        guard emulatorModeIsProtected else { kvmQueueException(Vector.ud); return .resume }
        guard vmcb.save.cpl == 0 else { kvmQueueException(Vector.gp); return .resume }
        switch insn {
        case .vmrun, .vmload, .vmsave:
            // check_svme_pa: rAX beyond 48 bits is #GP, tested before EFER.SVME.
            if rax & 0xffff_0000_0000_0000 != 0 { kvmQueueException(Vector.gp); return .resume }
        default:
            break
        }
        // check_svme: the EFER the vCPU runs with (L2's in guest mode).
        guard efer & EFER.svme != 0 else { kvmQueueException(Vector.ud); return .resume }
        if guestMode && emulatorCheckInterceptL2(insn) { return .resume }
        // No execute callback and no two-byte case for 0F 01: cannot_emulate → EMULATION_FAILED.
        kvmQueueException(Vector.ud)
        return guestMode ? .resume : .exitToUserspace(.internalError)
    }

    /// em_hypercall (arch/x86/kvm/emulate.c): with the hypercall-patching quirk, emulator_fix_hypercall
    /// (arch/x86/kvm/x86.c) writes the vendor's VMMCALL over the instruction and RIP stays at it, so the
    /// guest runs the native VMMCALL next (its exit handled as ever).
    private mutating func x86EmulateVmmcall() -> ExitHandling {
        guard emulatorModeIsProtected else { kvmQueueException(Vector.ud); return .resume }
        if guestMode && emulatorCheckInterceptL2(.vmmcall) { return .resume }
        return executeGuestInstruction(.vmmcall)
    }

    /// em_rsm behind the prefix, after the PRE_EXCEPT intercept check for L2.
    private mutating func x86EmulateRsm() -> ExitHandling {
        if guestMode && emulatorCheckInterceptL2(.rsm) { return .resume }
        return emRsm()
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
        if guestMode && emulatorCheckInterceptL2(.wrmsr(msr: msr, value: value)) { return .resume }
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
        }
    }
}
