// CR0/CR3/CR4 writes: the vendor hooks (no checks) and KVM's checked versions used by the emulator (RSM).

extension Vcpu {
    /// svm_set_cr0 (arch/x86/kvm/svm/svm.c): also flips EFER.LMA when paging toggles with LME set.
    mutating func svmSetCr0(_ value: UInt64, owner: Owner) {
        var hwCr0 = value
        if efer & EFER.lme != 0 {
            if !isPaging && value & CR0.pg != 0 {
                efer |= EFER.lma
                owners.efer = owner
                vmcb.save.efer |= EFER.lma | EFER.lme
            }
            if isPaging && value & CR0.pg == 0 {
                efer &= ~EFER.lma
                owners.efer = owner
                vmcb.save.efer &= ~(EFER.lma | EFER.lme)
            }
        }
        cr0 = value
        owners.cr0 = owner
        if !config.npt { hwCr0 |= CR0.pg | CR0.wp }
        // KVM_X86_QUIRK_CD_NW_CLEARED
        hwCr0 &= ~(CR0.cd | CR0.nw)
        vmcb.save.cr0 = hwCr0
    }

    /// svm_set_cr4 (arch/x86/kvm/svm/svm.c). The VMCB gets the host's CR4.MCE too: the guest runs
    /// with machine checks enabled whatever it asked for. That copy is what svm_enter_smm saves in
    /// the hsave page and nested_svm_vmexit later hands back to L1 as its own CR4.
    mutating func svmSetCr4(_ value: UInt64, owner: Owner) {
        cr4 = value
        owners.cr4 = owner
        var hw = config.npt ? value : value | CR4.pae
        if config.hostCr4Mce { hw |= CR4.mce }
        vmcb.save.cr4 = hw
    }

    /// kvm_is_valid_cr0 (arch/x86/kvm/x86.c)
    static func kvmIsValidCr0(_ value: UInt64) -> Bool {
        if value >> 32 != 0 { return false }
        if value & CR0.nw != 0 && value & CR0.cd == 0 { return false }
        if value & CR0.pg != 0 && value & CR0.pe == 0 { return false }
        return true
    }

    /// kvm_vcpu_is_legal_cr3 (arch/x86/kvm/cpuid.h)
    func kvmIsLegalCr3(_ value: UInt64) -> Bool { config.cpu.isLegalGpa(value) }

    /// kvm_set_cr0 (arch/x86/kvm/x86.c), the checked write the emulator uses. Returns false for #GP.
    mutating func kvmSetCr0(_ requested: UInt64, owner: Owner) -> Bool {
        let value = requested | CR0.et
        guard Vcpu.kvmIsValidCr0(value) else { return false }
        // Enabling paging with LME needs PAE.
        if efer & EFER.lme != 0 && !isPaging && value & CR0.pg != 0 && cr4 & CR4.pae == 0 { return false }
        // Legacy PAE paging: a change of PG, CD or NW loads the PDPTEs (load_pdptrs), which must be readable.
        if efer & EFER.lme == 0 && value & CR0.pg != 0 && cr4 & CR4.pae != 0
            && (value ^ cr0) & (CR0.pg | CR0.cd | CR0.nw) != 0 && !GuestPhys.isMappable(cr3) { return false }
        if value & CR0.pg == 0 && cr4 & CR4.pcide != 0 { return false }
        svmSetCr0(value, owner: owner)
        return true
    }

    /// kvm_set_cr4 (arch/x86/kvm/x86.c). Returns false for #GP. Its only caller is RSM
    /// (rsm_enter_protected_mode), which writes CR4 with paging off and later changes only PCIDE, so
    /// kvm_set_cr4's load_pdptrs for a PAE-bit change under legacy paging never applies and is left out.
    mutating func kvmSetCr4(_ value: UInt64, owner: Owner) -> Bool {
        guard config.cpu.isValidCr4(value) else { return false }
        let old = cr4
        if isLongMode && value & CR4.pae == 0 { return false }
        // PCIDE can be turned on only in long mode and with CR3[11:0] clear.
        if value & CR4.pcide != 0 && old & CR4.pcide == 0 && (cr3 & 0xfff != 0 || !isLongMode) { return false }
        svmSetCr4(value, owner: owner)
        return true
    }

    /// kvm_set_cr3 (arch/x86/kvm/x86.c). Returns false for #GP.
    mutating func kvmSetCr3(_ value: UInt64, owner: Owner) -> Bool {
        guard kvmIsLegalCr3(value) else { return false }
        cr3 = value
        owners.cr3 = owner
        // kvm_mmu_new_pgd may drop the current root (as RSM's CR3 load does on real 6.12.117: a
        // forced leave after a failed RSM resumes on the new CR3, svmfuzz oracle, zoo-B13).
        l1RootKept = false
        return true
    }
}
