// Retiring an instruction KVM emulated: where RIP goes next. With host NRIPS KVM trusts the NextRIP of
// the *current* VMCB, which after a forced leave from L2 (svm_leave_nested inside the handler) is
// vmcb01's, written by the CPU at L1's last exit: L1's address after its VMRUN. Without host NRIPS KVM
// decodes the instruction at the current RIP, which is still L2's.

extension Vcpu {
    /// __svm_skip_emulated_instruction (arch/x86/kvm/svm/svm.c), reached through
    /// kvm_skip_emulated_instruction / kvm_complete_insn_gp. Without NRIPS (or with NextRIP 0) the
    /// EMULTYPE_SKIP decode of kvm_emulate_instruction advances RIP by the instruction's length; the
    /// model assumes the bytes at RIP decode as `insn`.
    mutating func svmSkipEmulatedInstruction(_ insn: GuestInstruction) {
        let next = vmcb.control.nextRip
        if config.hostNrips && next != 0 {
            // NextRIP of another exit than this instruction's (the VMCB was switched under the
            // handler): the value is the address that VMCB's own level would have continued at.
            if next != rip &+ insn.length { owners.rip = current == .vmcb01 ? .l1 : .l2 }
            rip = next
        } else {
            rip &+= insn.length
        }
        // svm_set_interrupt_shadow(vcpu, 0): a retired instruction ends any interrupt shadow.
        vmcb.control.intState &= ~IntState.shadow
    }

    /// An instruction the CPU ran without an exit: RIP moves past it and any interrupt shadow ends.
    mutating func svmRetireInHardware(_ insn: GuestInstruction) {
        rip &+= insn.length
        vmcb.control.intState &= ~IntState.shadow
    }
}
