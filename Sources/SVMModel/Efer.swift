// EFER writes: svm_set_efer with the EFER.SVME toggle, and the generic set_efer in front of it.
// The 2026 series differs only here (and in msr_interception for msr-hook).

/// The result of an MSR write handler: 0 or 1 (inject #GP). KVM's handlers can also return a negative
/// errno (KVM_RUN fails), but only svm_set_efer's svm_allocate_nested does among the MSRs modeled, and
/// allocation never fails in the model (NestedResources.swift).
public enum MsrResult: Equatable, Sendable {
    case ok
    case fault
}

extension Vcpu {
    /// __kvm_valid_efer (arch/x86/kvm/msrs.c): bits that need a guest CPUID capability.
    func kvmValidEferGuestCaps(_ value: UInt64) -> Bool {
        if value & EFER.svme != 0 && !config.guestSvm { return false }
        if value & (EFER.lme | EFER.lma) != 0 && !config.guestLm { return false }
        return true
    }

    /// kvm_valid_efer (arch/x86/kvm/msrs.c): KVM's supported bits and the guest's CPUID.
    func kvmValidEfer(_ value: UInt64) -> Bool {
        value & ~config.supportedEferBits == 0 && kvmValidEferGuestCaps(value)
    }

    /// set_efer (arch/x86/kvm/msrs.c): the MSR_EFER case of kvm_set_msr_common, for guest WRMSR,
    /// RSM and KVM_SET_MSRS.
    mutating func setEfer(_ requested: UInt64, hostInitiated: Bool, owner: Owner) -> MsrResult {
        if requested & ~config.supportedEferBits != 0 { return .fault }
        if !hostInitiated {
            if !kvmValidEferGuestCaps(requested) { return .fault }
            // Toggling long mode with paging on is a #GP.
            if isPaging && (efer ^ requested) & EFER.lme != 0 { return .fault }
        }
        // LMA is the CPU's to compute: keep the current value.
        let value = (requested & ~EFER.lma) | (efer & EFER.lma)
        let oldEfer = efer
        svmSetEfer(value, owner: owner)
        // KVM_MMU_EFER_ROLE_BITS: a changed LME or NX resets the MMU, so the next entry loads a root
        // for the current CR3 even after a forced leave left a stale one (real 6.12.117: L2's
        // `wrmsr efer 0x500` forced it out and L1 ran on L2's CR3; with NX kept it ran on vmcb01's).
        if (value ^ oldEfer) & (EFER.lme | EFER.nx) != 0 { kvmMmuResetContext() }
        return .ok
    }

    /// svm_set_efer (arch/x86/kvm/svm/svm.c)
    mutating func svmSetEfer(_ value: UInt64, owner: Owner) {
        let oldEfer = efer
        efer = value
        owners.efer = owner

        var hwEfer = value
        if !config.npt {
            // Shadow paging needs NX, and LME only together with LMA.
            hwEfer |= EFER.nx
            if hwEfer & EFER.lma == 0 { hwEfer &= ~EFER.lme }
        }

        if (oldEfer ^ value) & EFER.svme != 0 {
            svmEferSvmeToggled(clearing: value & EFER.svme == 0)
        }

        vmcb.save.efer = hwEfer | EFER.svme
    }

    /// The SVME-toggle block of svm_set_efer (v1 moved it into svm_set_efer_svme()).
    private mutating func svmEferSvmeToggled(clearing: Bool) {
        // v1 2/3: toggles made while in guest mode are not tracked at all.
        if config.svmeClear == .ignoreInGuestMode && guestMode { return }

        if clearing {
            // [B01] without c513f484c558 ("KVM: nSVM: leave guest mode when clearing EFER.SVME"):
            // the vCPU stayed in guest mode and kept its nested state.
            if !has(.leaveNestedOnSvmeClear) { return }
            // Architecturally undefined while L2 runs; the series decides who gets shut down.
            if svmEferClearShouldTripleFault() { makeRequest(.tripleFault) }
            svmLeaveNested()
            // SMM keeps vmcb02: RSM may re-enter L2.
            if !smm { svmFreeNested() }
            // [B03] without 8312f1b9dd71 ("KVM: SVM: Don't set GIF when clearing EFER.SVME"):
            // clearing SVME also set GIF, although GIF and SVME are independent.
            if !has(.keepGifOnSvmeClear) { svmSetGif(true) }
        } else {
            svmAllocateNested()
        }
        makeRequest(.recalcIntercepts)
    }

    /// The triple-fault condition the EFER.SVME policy adds before svm_leave_nested.
    @inline(__always) private func svmEferClearShouldTripleFault() -> Bool {
        switch config.svmeClear {
        case .tripleFaultIfWantsToRun: return guestMode && wantsToRun      // cdc69269b18a
        case .tripleFaultAlways: return guestMode                          // v2 1/2
        case .leaveSilently, .ignoreInGuestMode, .tripleFaultFromMsrInterception: return false
        }
    }
}
