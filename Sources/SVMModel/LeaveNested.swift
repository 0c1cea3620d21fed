// The forced, non-architectural way out of guest mode (reference §3.1). Unlike a #VMEXIT it
// restores no L1 register: whatever L2 left in the caches stays there.

extension Vcpu {
    /// svm_leave_nested (arch/x86/kvm/svm/nested.c)
    mutating func svmLeaveNested() {
        if guestMode {
            nestedRunPending = 0
            pendingL2Entry = nil                   // the emulated entry is abandoned
            nested.vmcb12Gpa = GuestPhys.invalidGpa
            l1AtVmrun = nil                        // no #VMEXIT: nothing is restored
            guestMode = false                      // leave_guest_mode
            svmSwitchVmcb(.vmcb01)
            // nested_svm_uninit_mmu_context only repoints the MMU: no reload, no new root.
            if config.npt && l1RootKept {
                mmuRootStale = true
                // vmcb01's nested CR3 still names L1's root from before VMRUN (no svm_load_mmu_pgd).
                // L1 goes on with a RIP, RSP or CR3 that is not its own (L2's, or what userspace put):
                // pages that root may never have mapped. Fitted on real 6.1.192, where an L1 back on
                // its own registers runs on (kvm_amd's NPF loop: KvmFixes.npfProgressOnStaleRoot).
                vmcbRootStale = owners.rip != .l1 || owners.rsp != .l1 || owners.cr3 != .l1
            }
            // 8312f1b9dd71 (P2) moved svm_set_gif(true) here from svm_set_efer's SVME-clear path; before
            // it a forced leave kept vmcb01's GIF (real 6.12.117: GIF 0 after KVM_SET_VCPU_EVENTS smm=1
            // forced L2 out, when L1 had run VMRUN with GIF clear).
            if has(.keepGifOnSvmeClear) { svmSetGif(true) } else if config.vgif { gif = vmcb01Gif }
            // Inside an ioctl, userspace is stuffing state: it owns what it forced.
            // During KVM_RUN the leftovers stay L2's (the P1 scenario).
            if !wantsToRun { owners.handL2LeftoversToHost() }
        }
        clearRequest(.getNestedStatePages)
    }

    /// kvm_mmu_reset_context (arch/x86/kvm/mmu/mmu.c): the next entry loads a root for the current CR3
    /// (svm_load_mmu_pgd writes it into the VMCB).
    mutating func kvmMmuResetContext() {
        mmuRootStale = false
        vmcbRootStale = false
        l1RootKept = false
    }

    /// The top of svm_handle_exit (arch/x86/kvm/svm/svm.c): KVM reads back what the CPU owned while the
    /// guest ran. CR0 when its writes are not intercepted (svm_set_cr0 drops the intercept when the
    /// VMCB's CR0 equals the guest's): the CPU keeps CR0.ET at 1, so a CR0 that userspace or a vmcb12
    /// set without ET comes back with it (real 6.12 after a vmcb12 CR0 of 0: 0x10). The value is still
    /// the same level's, so its owner stays. CR3 with NPT, which the CPU owns while the guest runs.
    mutating func svmSyncCrsFromVmcb() {
        let readBack = cr0ReadBackAtExit
        if readBack != cr0 {
            cr0 = readBack
            vmcb.save.cr0 = readBack
        }
        guard config.npt, cr3 != vmcb.save.cr3 else { return }
        cr3 = vmcb.save.cr3
        owners.cr3 = current == .vmcb01 ? .l1 : .l2
    }

    /// The CR0 svm_handle_exit reads back after the guest runs (svmSyncCrsFromVmcb).
    public var cr0ReadBackAtExit: UInt64 { vmcb.save.cr0 == cr0 ? cr0 | CR0.et : cr0 }

    /// kvm_leave_nested (arch/x86/kvm/x86.h)
    mutating func kvmLeaveNested() { svmLeaveNested() }
}
