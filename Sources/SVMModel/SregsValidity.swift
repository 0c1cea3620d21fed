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
