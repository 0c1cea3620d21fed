// The guest instructions a program can execute, and how KVM handles each one's exit (reference §5).

public enum GuestInstruction: Hashable, Sendable {
    case wrmsr(msr: UInt32, value: UInt64)
    case vmrun(gpa: UInt64)
    case vmmcall
    case stgi
    case clgi
    case vmload(gpa: UInt64)
    case vmsave(gpa: UInt64)
    /// The running level triple-faults (a hardware SHUTDOWN).
    case tripleFault
    case rsm

    /// The SVM exit code the instruction causes (APM Appendix C).
    public var exitCode: UInt64 {
        switch self {
        case .wrmsr: return SVMExit.msr
        case .vmrun: return SVMExit.vmrun
        case .vmmcall: return SVMExit.vmmcall
        case .stgi: return SVMExit.stgi
        case .clgi: return SVMExit.clgi
        case .vmload: return SVMExit.vmload
        case .vmsave: return SVMExit.vmsave
        case .tripleFault: return SVMExit.shutdown
        case .rsm: return SVMExit.rsm
        }
    }

    /// The instruction's length in bytes (WRMSR 0F 30 and RSM 0F AA; the SVM instructions 0F 01 xx);
    /// 0 for a triple fault, which is no instruction.
    public var length: UInt64 {
        switch self {
        case .wrmsr, .rsm: return 2
        case .vmrun, .vmmcall, .stgi, .clgi, .vmload, .vmsave: return 3
        case .tripleFault: return 0
        }
    }
}

extension Vcpu {
    /// Executes one guest instruction in the running context and handles the exit it causes,
    /// as svm_handle_exit would (arch/x86/kvm/svm/svm.c).
    mutating func executeGuestInstruction(_ insn: GuestInstruction) -> ExitHandling {
        beginGuestInstruction(insn)
        // A racing vmcb12 write is armed for one VMRUN only, whether or not KVM got to read vmcb12.
        defer { if case .vmrun = insn, concurrentVmcb12Write != nil { concurrentVmcb12Write = nil } }
        // A CPU with SVME_ADDR_CHK checks rAX of VMRUN/VMLOAD/VMSAVE before the intercept (it sees
        // EFER.SVME=1 whatever L1 wrote): an unaligned or illegal address is #GP before KVM can raise
        // #UD for L1's cleared EFER.SVME, and in L2 before L1's intercept of the instruction (the #GP
        // goes to L2, or to L1 if it intercepts #GP). Real 6.12.117 and 6.1.192 under QEMU/TCG do both
        // (svmfuzz oracle campaigns); QEMU's helper_vmrun/vmload/vmsave check first. Outside protected
        // mode the CPU's #UD comes first (the instruction is not recognized there; QEMU's decoder
        // checks it before the address too), which KVM's own checks then raise.
        switch insn {
        case .vmrun(let gpa), .vmload(let gpa), .vmsave(let gpa):
            if config.hostSvmeAddrChk && cr0 & CR0.pe != 0 && !config.cpu.pageAddressValid(gpa) {
                kvmQueueException(Vector.gp)
                return .resume
            }
        default:
            break
        }
        if guestMode { return svmHandleL2Exit(insn) }
        // The CPU's exit from L1 writes vmcb01's NextRIP: the next instruction for an intercepted one,
        // 0 for a shutdown. An instruction the CPU runs itself exits nowhere and leaves it alone.
        if config.hostNrips && !svmInsnRunsInHardware(insn) {
            vmcb01.control.nextRip = insn == .tripleFault ? 0 : rip &+ insn.length
        }
        return svmInvokeExitHandler(insn)
    }

    /// The observables of the last instruction are reset, CR3 is read back from the VMCB (the guest
    /// ran), and the operands go into the registers the instruction reads.
    mutating func beginGuestInstruction(_ insn: GuestInstruction) {
        lastInjected = nil
        lastVmexitCode = nil
        svmSyncCrsFromVmcb()
        switch insn {
        case .vmrun(let gpa), .vmload(let gpa), .vmsave(let gpa):
            rax = gpa; owners.rax = runningOwner
        case .wrmsr(_, let value):
            rax = value & 0xffff_ffff; owners.rax = runningOwner
        default:
            break
        }
    }

    /// svm_handle_exit in guest mode: nested_svm_exit_special, then nested_svm_exit_handled.
    private mutating func svmHandleL2Exit(_ insn: GuestInstruction) -> ExitHandling {
        // The CPU's #VMEXIT: NextRIP of the intercepted instruction (APM 15.7.1; with host NRIPS only,
        // 0 for an exit that is no instruction's), and no interrupt shadow (L2 ran at least one
        // instruction since the entry that may have set it).
        if config.hostNrips { vmcb02.control.nextRip = insn == .tripleFault ? 0 : rip &+ insn.length }
        vmcb02.control.intState = 0
        svmSyncAfterL2Run()
        vmcb02.control.exitCode = insn.exitCode
        vmcb02.control.exitInfo2 = 0
        switch insn {
        case .wrmsr(let msr, let value):
            vmcb02.control.exitInfo1 = 1
            if nestedSvmExitHandledMsr(msr: msr, write: true) {
                nestedSvmVmexit()
                return .resume
            }
            return msrInterceptionWrite(msr, value)
        case .rsm:
            vmcb02.control.exitInfo1 = 0
            // KVM intercepts RSM in every VMCB it runs (init_vmcb), so L2's RSM exits to L0, and
            // nested_svm_exit_handled reflects it when vmcb12 intercepts it (nested_svm_intercept).
            if nested.ctl.intercepts.intercepts(exitCode: insn.exitCode) {
                nestedSvmVmexit()
                return .resume
            }
            // rsm_interception → em_rsm: RSM outside SMM is #UD, reflected if L1 intercepts #UD.
            kvmQueueException(Vector.ud)
            return .resume
        case .stgi, .clgi:
            vmcb02.control.exitInfo1 = 0
            if nested.ctl.intercepts.intercepts(exitCode: insn.exitCode) {
                nestedSvmVmexit()
                return .resume
            }
            // vGIF lets the CPU execute STGI/CLGI for L2 without an exit to L0 (so without a
            // KVM_REQ_EVENT). With nested vGIF (vmcb12 V_GIF_ENABLE) the CPU flips L2's own virtual
            // GIF in vmcb02 and gif_set() keeps reading L1's in vmcb01 (get_vgif_vmcb,
            // arch/x86/kvm/svm/svm.h); real 6.12.117 and 6.1.192 keep GIF_SET at L2's CLGI.
            if !vmcb02.control.intercepts.intercepts(exitCode: insn.exitCode) && !svmSmiWindowInterceptsStgi(insn) {
                return svmGifInsnInHardware(insn)
            }
            return svmInvokeExitHandler(insn)
        case .vmmcall where !nested.ctl.intercepts.intercepts(exitCode: insn.exitCode):
            // L2's VMMCALL that L1 does not intercept is #UD in L2 (APM), not a KVM hypercall:
            // vmmcall_interception queues #UD (reflected if L1 intercepts #UD). Seen on real 6.12.117.
            // Without the fix the CPU's own #UD goes to KVM's hypercall emulation, whose patching quirk
            // re-runs the VMMCALL forever (real 6.1.192).
            guard has(.interceptVmmcallInL2) else { return .exitToUserspace(.hang) }
            kvmQueueException(Vector.ud)
            return .resume
        default:
            vmcb02.control.exitInfo1 = 0
            if nested.ctl.intercepts.intercepts(exitCode: insn.exitCode)
                || insn == .tripleFault && !has(.shutdownExitOnlyIfIntercepted) {
                nestedSvmVmexit()
                return .resume
            }
            return svmInvokeExitHandler(insn)
        }
    }

    /// Whether vmcb01 lets L1's STGI/CLGI run without an exit: vGIF clears both intercepts
    /// (svm_recalc_instruction_intercepts, arch/x86/kvm/svm/svm.c) unless EFER.SVME is clear and
    /// KVM has 460c7eb2e759, or KVM set the STGI intercept to catch the end of an SMI window
    /// (svm_enable_smi_window).
    func svmGifInsnRunsInHardware(_ insn: GuestInstruction) -> Bool {
        guard config.vgif else { return false }
        if efer & EFER.svme == 0 && has(.interceptGifInsnsWithoutSvme) { return false }
        return !svmSmiWindowInterceptsStgi(insn)
    }

    /// Whether vmcb01 lets L1's VMLOAD/VMSAVE run in the CPU: with virtual VMLOAD/VMSAVE (host VLS and
    /// NPT) svm_recalc_instruction_intercepts clears both intercepts, unless EFER.SVME is clear and KVM
    /// has 460c7eb2e759 (which intercepts them to raise #UD; before it the CPU, which always sees
    /// EFER.SVME=1 in the VMCB, ran them without one). The CPU virtualizes them for a guest in long
    /// mode only and exits otherwise, as if they were intercepted (QEMU's svm_helper.c does the same).
    func svmVmloadSaveRunsInHardware(_ insn: GuestInstruction) -> Bool {
        guard config.vlsEnabled && isLongMode else { return false }
        switch insn {
        case .vmload, .vmsave: return !(efer & EFER.svme == 0 && has(.interceptGifInsnsWithoutSvme))
        default: return false
        }
    }

    /// Whether L1's instruction is executed by the CPU rather than intercepted to KVM.
    func svmInsnRunsInHardware(_ insn: GuestInstruction) -> Bool {
        switch insn {
        case .stgi, .clgi: return svmGifInsnRunsInHardware(insn)
        case .vmload, .vmsave: return svmVmloadSaveRunsInHardware(insn)
        default: return false
        }
    }

    /// The checks the CPU itself makes before it runs an SVM instruction (STGI/CLGI under vGIF,
    /// VMLOAD/VMSAVE under VLS) or exits for it (APM vol. 3: #UD outside protected mode, #GP(0) at
    /// CPL > 0); nil when they pass. EFER.SVME is
    /// not among them: the CPU reads the VMCB's EFER, whose SVME KVM always sets (svm_set_efer). KVM
    /// intercepts #UD and #GP and delivers them to the guest (or reflects them to L1).
    func svmInsnCpuFault() -> UInt8? {
        if cr0 & CR0.pe == 0 { return Vector.ud }
        if vmcb.save.cpl != 0 { return Vector.gp }
        return nil
    }

    /// STGI/CLGI that vGIF lets the CPU execute (no exit to KVM, so no KVM_REQ_EVENT for an event GIF
    /// was holding back: an INIT waits for the next request, an SMI has its own STGI window). The CPU
    /// checks the mode and CPL itself (svmInsnCpuFault), in L2 as in L1. With nested vGIF
    /// (vmcb12 V_GIF_ENABLE) L2's STGI/CLGI flip L2's own virtual GIF in vmcb02, and gif_set() keeps
    /// reading L1's in vmcb01 (get_vgif_vmcb, arch/x86/kvm/svm/svm.h); real 6.12.117 and 6.1.192 keep
    /// GIF_SET at L2's CLGI.
    private mutating func svmGifInsnInHardware(_ insn: GuestInstruction) -> ExitHandling {
        if let fault = svmInsnCpuFault() {
            // An exception exit (#UD, #GP) saves no NextRIP.
            if config.hostNrips { if guestMode { vmcb02.control.nextRip = 0 } else { vmcb01.control.nextRip = 0 } }
            kvmQueueException(fault)
            return .resume
        }
        if guestMode && nestedVgifEnabled {
            if insn == .stgi { vmcb02.control.intCtl |= IntCtl.vGif } else { vmcb02.control.intCtl &= ~IntCtl.vGif }
        } else {
            gif = insn == .stgi
        }
        svmRetireInHardware(insn)
        return .resume
    }

    /// svm_enable_smi_window (arch/x86/kvm/svm/svm.c): with an SMI held back by GIF=0, KVM intercepts
    /// STGI itself to see the window open, in vmcb01 or vmcb02 alike.
    func svmSmiWindowInterceptsStgi(_ insn: GuestInstruction) -> Bool { insn == .stgi && !gif && smiPending }

    /// svm_invoke_exit_handler: L0's own handling of the exit.
    private mutating func svmInvokeExitHandler(_ insn: GuestInstruction) -> ExitHandling {
        switch insn {
        case .wrmsr(let msr, let value):
            return msrInterceptionWrite(msr, value)
        case .vmrun:
            return nestedSvmVmrun()
        case .vmmcall:
            // kvm_emulate_hypercall: unknown hypercall, -KVM_ENOSYS in RAX.
            rax = UInt64(bitPattern: -1000); owners.rax = runningOwner
            svmSkipEmulatedInstruction(insn)
            return .resume
        case .stgi, .clgi:
            // Not intercepted in vmcb01: the CPU flips V_GIF and KVM never sees it.
            if !guestMode && svmGifInsnRunsInHardware(insn) { return svmGifInsnInHardware(insn) }
            // stgi_interception / clgi_interception
            guard nestedSvmCheckPermissions() else { return .resume }
            svmSkipEmulatedInstruction(insn)
            svmSetGif(insn == .stgi)
            return .resume
        case .vmload, .vmsave:
            if !guestMode && svmInsnRunsInHardware(insn) {
                // Virtual VMLOAD/VMSAVE: the CPU checks the mode and CPL and runs it, whatever L1's
                // EFER.SVME (the VMCB's is always set).
                if let fault = svmInsnCpuFault() {
                    if config.hostNrips { vmcb01.control.nextRip = 0 }   // an exception exit has no NextRIP
                    kvmQueueException(fault)
                    return .resume
                }
                if !GuestPhys.isMappable(rax) {
                    // The CPU's access through the nested page tables faults (#NPF, which saves no
                    // NextRIP) on a GPA no memslot backs; kvm_mmu_page_fault has KVM's emulator run the
                    // instruction, which has no VMLOAD/VMSAVE: handle_emulation_failure queues #UD and,
                    // for L1 at CPL 0, exits to userspace. RIP is not advanced. The same on every kernel.
                    if config.hostNrips { vmcb01.control.nextRip = 0 }
                    kvmQueueException(Vector.ud)
                    return .exitToUserspace(.internalError)
                }
                svmRetireInHardware(insn)
                return .resume
            }
            // vmload_vmsave_interception (arch/x86/kvm/svm/svm.c)
            guard nestedSvmCheckPermissions() else { return .resume }
            // Reached with an invalid rAX only on a host without SVME_ADDR_CHK (hostSvmeAddrChk off:
            // with it the CPU's check at the top of executeGuestInstruction came first, in L1 and L2);
            // KVM itself maps the page rAX points into.
            if !config.cpu.pageAddressValid(rax) {
                kvmQueueException(Vector.gp)
                return .resume
            }
            if !GuestPhys.isMappable(rax) {
                // kvm_vcpu_map fails. 2daf71bfd77d ("KVM: nSVM: Fail emulation of VMRUN/VMLOAD/VMSAVE
                // if mapping vmcb12 fails", the patch of VMRUN's): kvm_handle_memory_failure, an
                // emulation-failure exit to userspace with RIP not advanced; before it, #GP.
                if !has(.exitOnVmcb12MapFailure) {
                    kvmQueueException(Vector.gp)
                    return .resume
                }
                return .exitToUserspace(.internalError)
            }
            svmSkipEmulatedInstruction(insn)
            return .resume
        case .tripleFault:
            return shutdownInterception()
        case .rsm:
            return emRsm()                             // rsm_interception
        }
    }
}

extension Vcpu {
    /// em_rsm (arch/x86/kvm/emulate.c), which rsm_interception and the forced-emulation door both
    /// reach: #UD outside SMM; in SMM emulator_leave_smm (arch/x86/kvm/smm.c), and a failed RSM
    /// triple-faults.
    mutating func emRsm() -> ExitHandling {
        guard smm else {
            kvmQueueException(Vector.ud)
            return .resume
        }
        if !emulatorLeaveSmm() { makeRequest(.tripleFault) }
        return .resume
    }
}
