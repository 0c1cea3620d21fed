// The forced, non-architectural way out of guest mode (reference §3.1). Unlike a #VMEXIT it
// restores no L1 register: whatever L2 left in the caches stays there.

extension Vcpu {
    /// svm_leave_nested (arch/x86/kvm/svm/nested.c)
    mutating func svmLeaveNested() {
        if guestMode {
            nestedRunPending = 0
            nested.vmcb12Gpa = GuestPhys.invalidGpa
            guestMode = false                      // leave_guest_mode
            svmSwitchVmcb(.vmcb01)
            svmSetGif(true)                        // P2: a forced leave sets GIF
            // Inside an ioctl, userspace is stuffing state: it owns what it forced.
            // During KVM_RUN the leftovers stay L2's (the P1 scenario).
            if !wantsToRun { owners.handL2LeftoversToHost() }
        }
        clearRequest(.getNestedStatePages)
    }

    /// kvm_leave_nested (arch/x86/kvm/x86.h)
    mutating func kvmLeaveNested() { svmLeaveNested() }
}
