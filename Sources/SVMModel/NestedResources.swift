// Allocation of vmcb02 and the merged MSR permission map, bound to EFER.SVME.

extension Vcpu {
    /// svm_allocate_nested (arch/x86/kvm/svm/nested.c). The model has no memory pressure, so it has
    /// none of KVM's -ENOMEM failure (nor the error paths of svm_set_efer and set_efer behind it).
    mutating func svmAllocateNested() {
        if nested.initialized { return }
        vmcb02 = Vmcb()
        nested.initialized = true
    }

    /// svm_free_nested (arch/x86/kvm/svm/nested.c)
    mutating func svmFreeNested() {
        guard nested.initialized else { return }
        if current != .vmcb01 {
            warn(.freeNestedNotVmcb01)
            svmSwitchVmcb(.vmcb01)
        }
        vmcb02 = Vmcb()
        nested.lastVmcb12Gpa = GuestPhys.invalidGpa
        nested.initialized = false
    }
}
