// Guest WRMSR handling: the L2 routing through L1's MSR permission map (reference §5) and
// KVM's own emulation of the write.

extension Vcpu {
    /// nested_svm_exit_handled_msr (arch/x86/kvm/svm/nested.c): true = reflect to L1 (DONE).
    @inline(__always)
    func nestedSvmExitHandledMsr(msr: UInt32, write: Bool) -> Bool {
        // Without MSR_PROT, L0 handles every MSR exit of L2.
        guard nested.ctl.intercepts.contains(.msrProt) else { return false }
        if !has(.readL1MsrPermissionMap) { return true }
        guard let bitNr = svmMsrpmBitNr(msr) else { return true }
        guard let byte = memory.readMsrpmByte(base: nested.ctl.msrpmBasePa, offset: bitNr / 8) else { return true }
        let mask: UInt8 = (write ? 2 : 1) << UInt8(bitNr & 7)
        return byte & mask != 0
    }

    /// svm_set_vm_cr (arch/x86/kvm/svm/svm.c). The value is stored before the SVM_DIS check.
    mutating func svmSetVmCr(_ data: UInt64) -> MsrResult {
        if data & ~VMCR.validMask != 0 { return .fault }
        var chgMask = VMCR.validMask
        if nested.vmCrMsr & VMCR.svmDis != 0 { chgMask &= ~(VMCR.lock | VMCR.svmDis) }
        nested.vmCrMsr = (nested.vmCrMsr & ~chgMask) | (data & chgMask)
        if nested.vmCrMsr & VMCR.svmDis != 0 && efer & EFER.svme != 0 { return .fault }
        return .ok
    }

    /// svm_set_msr (arch/x86/kvm/svm/svm.c) and kvm_set_msr_common for the MSRs the model knows.
    mutating func svmSetMsr(_ msr: UInt32, _ data: UInt64, hostInitiated: Bool, owner: Owner) -> MsrResult {
        switch msr {
        case MSR.efer:
            return setEfer(data, hostInitiated: hostInitiated, owner: owner)
        case MSR.vmHsavePa:
            // [B16] without fce7e152ffc8 ("KVM: nSVM: Check the value written to MSR_VM_HSAVE_PA"):
            // any value was stored as written.
            if !has(.checkHsavePaValue) {
                nested.hsaveMsr = data
                return .ok
            }
            // Only the guest's write is checked; userspace may restore anything.
            if !hostInitiated && !config.cpu.pageAddressValid(data) { return .fault }
            nested.hsaveMsr = data & GuestPhys.pageMask
            return .ok
        case MSR.vmCr:
            return svmSetVmCr(data)
        // The SYSCALL MSRs are stored in the VMCB as written (svm_set_msr); IA32_TSC goes to
        // kvm_set_msr_common, which accepts any value.
        case MSR.star, MSR.lstar, MSR.cstar, MSR.syscallMask, MSR.tsc:
            return .ok
        // FS/GS/KERNEL_GS base: the guest's writes reach the CPU directly (svm_direct_access_msrs),
        // which #GPs a non-canonical address (GuestCpu.checksCanonicalBases); userspace's go through
        // kvm_set_msr_common, which checks the same.
        case MSR.fsBase, MSR.gsBase, MSR.kernelGsBase:
            return isCanonical48(data) || !hostInitiated && !config.cpu.checksCanonicalBases ? .ok : .fault
        default:
            return .fault                          // KVM_MSR_RET_UNSUPPORTED
        }
    }

    /// msr_interception → kvm_emulate_wrmsr (arch/x86/kvm/svm/svm.c, arch/x86/kvm/msrs.c).
    mutating func msrInterceptionWrite(_ msr: UInt32, _ data: UInt64) -> ExitHandling {
        let eferFromL2 = guestMode && msr == MSR.efer
        let owner = runningOwner
        let r: ExitHandling
        switch svmSetMsr(msr, data, hostInitiated: false, owner: owner) {
        case .ok:
            // kvm_complete_insn_gp: skip the WRMSR, on whichever VMCB is current now (vmcb01 after a
            // forced leave from L2, SkipInstruction.swift).
            svmSkipEmulatedInstruction(.wrmsr(msr: msr, value: data))
            r = .resume
        case .fault:
            kvmQueueException(Vector.gp)
            r = .resume
        }
        // msr-hook: a guest WRMSR(EFER) from L2 that ended outside guest mode shuts L1 down.
        if config.svmeClear == .tripleFaultFromMsrInterception && eferFromL2 && !guestMode { makeRequest(.tripleFault) }
        return r
    }
}

/// A 48-bit canonical address (bits 63:47 equal), the check of is_noncanonical_address without LA57.
@inline(__always) func isCanonical48(_ a: UInt64) -> Bool {
    let top = a >> 47
    return top == 0 || top == 0x1_ffff
}
