// Allocation of vmcb02 and the merged MSR permission map, bound to EFER.SVME.

extension Vcpu {
    /// svm_allocate_nested (arch/x86/kvm/svm/nested.c). Allocation never fails in the model.
    mutating func svmAllocateNested() -> Errno {
        if nested.initialized { return .ok }
        vmcb02 = Vmcb()
        nested.initialized = true
        return .ok
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
