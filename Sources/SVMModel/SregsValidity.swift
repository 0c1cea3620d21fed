// Why KVM_SET_SREGS would refuse a register set: the kvm_is_valid_sregs rule that fails.

extension Vcpu {
    /// The first rule of kvm_is_valid_sregs (arch/x86/kvm/regs.c) that `s` breaks, as a short
    /// stable token, or nil when KVM accepts it.
    public func kvmSregsRejection(_ s: KvmSregs) -> String? {
        if s.efer & EFER.lme != 0 && s.cr0 & CR0.pg != 0 {
            if s.cr4 & CR4.pae == 0 { return "long-mode-without-pae" }
            if s.efer & EFER.lma == 0 { return "efer-lma" }
            if !Vcpu.kvmIsLegalCr3(s.cr3) { return "cr3" }
        } else if s.efer & EFER.lma != 0 {
            return "efer-lma"
        }
        if !Vcpu.kvmIsValidCr4(s.cr4) { return "cr4" }
        if !Vcpu.kvmIsValidCr0(s.cr0) { return "cr0" }
        if !kvmValidEfer(s.efer) { return "efer-bits" }
        return nil
    }
}

extension Vcpu {
    /// The first check of KVM_SET_NESTED_STATE (kvm_arch_vcpu_ioctl, then svm_set_nested_state in
    /// arch/x86/kvm/svm/nested.c) that refuses `st` on this vCPU, as a short stable token, or nil.
    /// It names what setNestedState checks, in the same order, without changing anything.
    public func kvmNestedStateRejection(_ st: KvmNestedState) -> String? {
        if !config.nested { return "nested-disabled" }
        if st.flags & ~(NestedFlag.guestMode | NestedFlag.runPending | NestedFlag.gifSet) != 0 { return "flags" }
        if st.flags & NestedFlag.runPending != 0 && st.flags & NestedFlag.guestMode == 0 { return "run-pending-without-guest-mode" }
        if efer & EFER.svme == 0 && st.flags != 0 && st.flags != NestedFlag.gifSet { return "svme-clear" }
        if smm && st.flags & NestedFlag.guestMode != 0 { return "smm" }
        if st.flags & NestedFlag.guestMode == 0 { return nil }
        if !GuestPhys.pageAddressValid(st.vmcbPa) { return "vmcb-pa" }
        if !st.hasData { return "size" }
        if !Vcpu.nestedVmcbCheckControls(Vcpu.nestedCopyVmcbControlToCache(st.control, guestNpt: config.npt)) {
            return "controls"
        }
        if cr0 & CR0.cd == 0 && cr0 & CR0.nw != 0 { return "l2-cr0" }
        let s = st.save
        if s.cr0 & CR0.pg == 0 || s.cr0 & CR0.pe == 0 || s.rflags & RFLAGS.vm != 0 || !nestedVmcbCheckSave(s) {
            return "l1-save"
        }
        return nil
    }
}
