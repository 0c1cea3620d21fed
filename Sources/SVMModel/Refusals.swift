// Why KVM refuses a SET ioctl: each check is written once, in KVM's order, and names itself like the
// kernel's CC() macro does, so the ioctl and the diagnosis (unrestorable-state's "rule") cannot disagree.

/// A rule of kvm_is_valid_sregs (arch/x86/kvm/regs.c) that a register set breaks.
public enum SregsRefusal: String, Sendable, CaseIterable {
    case longModeWithoutPae = "long-mode-without-pae"
    /// EFER.LME and CR0.PG without EFER.LMA.
    case longModeWithoutLma = "long-mode-without-lma"
    /// EFER.LMA without EFER.LME. KVM's one check refuses LMA outside long mode; it is told apart by
    /// the missing bit, so a campaign's known issue on one cause does not hide the other.
    case eferLma = "efer-lma"
    /// EFER.LMA with EFER.LME but without CR0.PG (the same check of KVM's as `eferLma`).
    case eferLmaWithoutPaging = "efer-lma-without-paging"
    case cr3
    case cr4
    case cr0
    case eferBits = "efer-bits"
}

/// A check of KVM_SET_NESTED_STATE (kvm_arch_vcpu_ioctl, then svm_set_nested_state in
/// arch/x86/kvm/svm/nested.c) that refuses a blob before anything is committed.
public enum NestedStateRefusal: String, Sendable, CaseIterable {
    case nestedDisabled = "nested-disabled"
    /// kvm_state.size smaller than struct kvm_nested_state (the header).
    case headerSize = "header-size"
    case flags
    case runPendingWithoutGuestMode = "run-pending-without-guest-mode"
    case svmeClear = "svme-clear"
    /// [B03] only: without SVME the only payload accepted was GIF_SET.
    case gifClearWithoutSvme = "gif-clear-without-svme"
    /// kvm_state.format is not KVM_STATE_NESTED_FORMAT_SVM.
    case format
    case smm
    case vmcbPa = "vmcb-pa"
    /// GUEST_MODE with a size that does not cover the 4 KiB data area.
    case size
    case controls
    case l2Cr0 = "l2-cr0"
    case l1Save = "l1-save"
}

/// A check of KVM_SET_VCPU_EVENTS (kvm_vcpu_ioctl_x86_set_vcpu_events, arch/x86/kvm/x86.c).
public enum VcpuEventsRefusal: String, Sendable, CaseIterable {
    /// A pending or injected exception whose vector is above 31 or is NMI's.
    case exceptionVector = "exception-vector"
}

extension Vcpu {
    /// The exception check of kvm_vcpu_ioctl_x86_set_vcpu_events (arch/x86/kvm/x86.c): nil when an
    /// exception block queuing `exception` (nil: none) is accepted.
    public func kvmVcpuEventsRejection(exception e: KvmException?) -> VcpuEventsRefusal? {
        if let e, e.vector > 31 || e.vector == Vector.nmi { return .exceptionVector }
        return nil
    }

    /// kvm_is_valid_sregs (arch/x86/kvm/regs.c), including P5's kvm_valid_efer: the first rule `s`
    /// breaks, or nil when KVM_SET_SREGS accepts it.
    /// Inlined: called from the mutating ioctls, a non-inlined call would copy the whole vCPU.
    @inline(__always)
    public func kvmSregsRejection(_ s: KvmSregs) -> SregsRefusal? {
        if s.efer & EFER.lme != 0 && s.cr0 & CR0.pg != 0 {
            if s.cr4 & CR4.pae == 0 { return .longModeWithoutPae }
            if s.efer & EFER.lma == 0 { return .longModeWithoutLma }
            if !kvmIsLegalCr3(s.cr3) { return .cr3 }
        } else if s.efer & EFER.lma != 0 {
            return s.efer & EFER.lme != 0 ? .eferLmaWithoutPaging : .eferLma
        }
        if !config.cpu.isValidCr4(s.cr4) { return .cr4 }
        if !Vcpu.kvmIsValidCr0(s.cr0) { return .cr0 }
        // [B28] without 184bd464bdb6 ("KVM: x86: Check EFER validity on KVM_SET_SREGS*").
        if has(.checkEferOnSetSregs) && !kvmValidEfer(s.efer) { return .eferBits }
        return nil
    }

    /// The checks KVM_SET_NESTED_STATE makes before it commits anything, in the kernel's order: the
    /// first that refuses `st` on this vCPU, or nil. (The final CR3 load can still fail after the
    /// commit; it has no rule here.)
    public func kvmNestedStateRejection(_ st: KvmNestedState) -> NestedStateRefusal? {
        var ctl = VmcbControl()
        return kvmNestedStateRejection(st, sanitizedControl: &ctl)
    }

    /// The same checks; for an accepted GUEST_MODE blob `ctl` receives the sanitized control area
    /// the commit installs (computed once: the hot path puts nested state at every migration check).
    @inline(__always)
    func kvmNestedStateRejection(_ st: KvmNestedState, sanitizedControl ctl: inout VmcbControl) -> NestedStateRefusal? {
        if !config.nested { return .nestedDisabled }
        // kvm_arch_vcpu_ioctl: the header must fit, the flags be generic ones, RUN_PENDING come with
        // GUEST_MODE; then svm_set_nested_state: the SVM format, and only the flags SVM has (the
        // generic EVMCS and MTF_PENDING are VMX's).
        if st.size < KvmNestedState.headerSize { return .headerSize }
        if st.flags & ~(NestedFlag.guestMode | NestedFlag.runPending | NestedFlag.gifSet | NestedFlag.evmcs
                        | NestedFlag.mtfPending) != 0 { return .flags }
        if st.flags & NestedFlag.runPending != 0 && st.flags & NestedFlag.guestMode == 0 { return .runPendingWithoutGuestMode }
        if st.format != KvmNestedState.formatSvm { return .format }
        if st.flags & ~(NestedFlag.guestMode | NestedFlag.runPending | NestedFlag.gifSet) != 0 { return .flags }
        // GUEST_MODE needs EFER.SVME, set beforehand through SET_SREGS or SET_MSRS.
        if efer & EFER.svme == 0 && st.flags != 0 && st.flags != NestedFlag.gifSet { return .svmeClear }
        // [B03] without 6f4d3ebc24c6 ("KVM: SVM: Allow KVM_SET_NESTED_STATE to clear GIF when
        // SVME==0"): without SVME the only accepted payload was GIF_SET, so GIF=0 could not be restored.
        if !has(.allowGifClearWithoutSvme) && efer & EFER.svme == 0 && st.flags != NestedFlag.gifSet {
            return .gifClearWithoutSvme
        }
        if smm && st.flags & NestedFlag.guestMode != 0 { return .smm }
        if st.flags & NestedFlag.guestMode == 0 { return nil }
        if !config.cpu.pageAddressValid(st.vmcbPa) { return .vmcbPa }
        if st.size < KvmNestedState.headerSize + KvmNestedState.vmcbSize { return .size }
        ctl = Vcpu.nestedCopyVmcbControlToCache(st.control, guestNpt: config.npt)
        if !nestedVmcbCheckControls(ctl) { return .controls }
        // The current (L2) CR0 must not have NW without CD.
        if cr0 & CR0.cd == 0 && cr0 & CR0.nw != 0 { return .l2Cr0 }
        let s = st.save
        if s.cr0 & CR0.pg == 0 || s.cr0 & CR0.pe == 0 || s.rflags & RFLAGS.vm != 0 || !nestedVmcbCheckSave(s) {
            return .l1Save
        }
        // 5dc500a354cc: nor an L1 EFER with LMA and no LME, which the next #VMEXIT would load into L1
        // ([B30] without it: accepted).
        if has(.rejectL1LmaWithoutLme) && s.efer & EFER.lma != 0 && s.efer & EFER.lme == 0 { return .l1Save }
        return nil
    }
}
