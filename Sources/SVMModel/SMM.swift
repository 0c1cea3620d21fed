// SMM with nested SVM (reference §9): SMI delivery, svm_enter_smm's #VMEXIT, and RSM back into L2.

extension Vcpu {
    /// kvm_smm_changed (arch/x86/kvm/smm.c)
    mutating func kvmSmmChanged(_ entering: Bool) {
        kvmMmuResetContext()
        if entering {
            smm = true
        } else {
            smm = false
            smmInsideNmi = false
            makeRequest(.event)
        }
    }

    /// svm_enter_smm (arch/x86/kvm/svm/svm.c). Returns false when the VM must die.
    mutating func svmEnterSmm(_ smram: inout Smram) -> Bool {
        guard guestMode else {
            l1StateAtSmi = nil
            return true
        }
        // 32-bit SMRAM cannot describe a nested guest.
        guard config.guestLm else { return false }
        smram.svmGuestFlag = true
        smram.svmGuestVmcbGpa = nested.vmcb12Gpa
        vmcb02.save.rax = rax
        vmcb02.save.rsp = rsp
        vmcb02.save.rip = rip
        // The #VMEXIT below is how KVM leaves L2 for SMM, not one L1 sees: what L1's VMRUN saved still
        // has to come back when L2 later exits for real.
        let savedAtVmrun = l1AtVmrun
        nestedSvmSimpleVmexit(SVMExit.sw)
        l1AtVmrunAcrossSmm = savedAtVmrun
        // The hsave page holds a copy of vmcb01.save at +0x400 while SMM uses vmcb01.
        guard var hsave = memory.mapVmcb(nested.hsaveMsr) else { return false }
        Vcpu.svmCopyVmrunState(&hsave.save, from: vmcb01.save)
        memory.writeVmcb(nested.hsaveMsr, hsave)
        l1StateAtSmi = hsave.save
        return true
    }

    /// enter_smm (arch/x86/kvm/smm.c)
    mutating func enterSmm() {
        // Save the interrupted context (L2's when in guest mode).
        var smram = Smram()
        smram.efer = efer
        smram.cr0 = cr0
        smram.cr3 = cr3
        smram.cr4 = cr4
        smram.rip = rip
        smram.rsp = rsp
        smram.rax = rax
        smram.rflags = rflags
        if !svmEnterSmm(&smram) {
            kvmVmDead()
            return
        }
        kvmSmmChanged(true)
        memory.smram = smram
        // The SMM entry state is L1's own context.
        kvmSetRflags(RFLAGS.fixed, owner: .l1)
        rip = 0x8000; owners.rip = .l1
        svmSetCr0(cr0 & ~(CR0.pe | CR0.pg | CR0.ts | CR0.em), owner: .l1)
        svmSetCr4(0, owner: .l1)
        if config.guestLm { svmSetEfer(0, owner: .l1) }
    }

    /// kvm_vm_dead: the VM is unusable; every later ioctl fails.
    mutating func kvmVmDead() { vmDead = true }

    /// emulator_leave_smm (arch/x86/kvm/smm.c) as em_rsm calls it. False: the RSM triple-faults.
    mutating func emulatorLeaveSmm() -> Bool {
        let smram = memory.smram
        kvmSmmChanged(false)

        // Drop to a real-mode-like state before loading the saved one.
        svmSetCr4(cr4 & ~CR4.pcide, owner: .l1)
        svmSetCr0(cr0 & ~(CR0.pg | CR0.pe), owner: .l1)
        svmSetCr4(cr4 & ~CR4.pae, owner: .l1)
        if config.guestLm { _ = setEfer(0, hostInitiated: false, owner: .l1) }

        if !svmLeaveSmm(smram) { return false }

        if !rsmLoadState64(smram) {
            // 3f6821aa147b: the shutdown applies to L1, not as a #VMEXIT with nested_run_pending.
            // [B13] without 3f6821aa147b ("KVM: x86: Forcibly leave nested if RSM to L2 hits shutdown").
            if guestMode && has(.leaveNestedOnRsmFailure) { kvmLeaveNested() }
            return false
        }
        return true
    }

    /// svm_leave_smm (arch/x86/kvm/svm/svm.c): false = X86EMUL_UNHANDLEABLE.
    mutating func svmLeaveSmm(_ smram: Smram) -> Bool {
        guard config.guestLm else { return true }
        guard smram.svmGuestFlag else { return true }
        guard config.guestSvm else { return false }
        // L2's EFER at SMI time must have had SVME.
        guard smram.efer & EFER.svme != 0 else { return false }
        guard let vmcb12 = memory.mapVmcb(smram.svmGuestVmcbGpa) else { return false }
        guard let hsave = memory.mapVmcb(nested.hsaveMsr) else { return false }
        svmAllocateNested()
        // Restore L1's VMRUN-time state that SMM used vmcb01 for.
        Vcpu.svmCopyVmrunState(&vmcb01.save, from: hsave.save)
        // Observable for the smm-l1-state check: did RSM install an L1 state other than the one
        // the SMI saved, or one the other ways into L2 would refuse?
        let l1 = vmcb01.save
        let l1Valid = l1.cr0 & CR0.pg != 0 && l1.cr0 & CR0.pe != 0 && l1.rflags & RFLAGS.vm == 0
            && nestedVmcbCheckSave(l1)
        if smmL1Mismatch == nil, !l1Valid || (l1StateAtSmi.map { $0 != l1 } ?? false) {
            smmL1Mismatch = SmmL1Record(atSmi: l1StateAtSmi, atRsm: l1)
        }
        nested.ctl = Vcpu.nestedCopyVmcbControlToCache(vmcb12.control, guestNpt: config.npt)
        nested.save = vmcb12.save
        // be5fa8737d42: the controls are checked again on the way back to L2.
        // [B15] without be5fa8737d42 ("KVM: SVM: check validity of VMCB controls when returning
        // from SMM"): the re-read vmcb12 went into L2 unchecked.
        if has(.checkCachedVmcb12OnRsm) && !nestedSvmCheckCachedVmcb12() { return false }
        if !enterSvmGuestMode(smram.svmGuestVmcbGpa, fromVmrun: false) { return false }
        nestedRunPending = 1
        pendingL2Entry = EmulatedL2Entry(source: .rsm, userspaceHadControl: false)
        l1AtVmrun = l1AtVmrunAcrossSmm
        l1AtVmrunAcrossSmm = nil
        return true
    }

    /// rsm_load_state_64 (arch/x86/kvm/smm.c): the saved context, through the checked writes.
    mutating func rsmLoadState64(_ smram: Smram) -> Bool {
        let owner = runningOwner
        rax = smram.rax; owners.rax = owner
        rsp = smram.rsp; owners.rsp = owner
        rip = smram.rip; owners.rip = owner
        kvmSetRflags(smram.rflags, owner: owner)
        if setEfer(smram.efer & ~EFER.lma, hostInitiated: false, owner: owner) != .ok { return false }
        return rsmEnterProtectedMode(cr0: smram.cr0, cr3: smram.cr3, cr4: smram.cr4, owner: owner)
    }

    /// rsm_enter_protected_mode (arch/x86/kvm/smm.c): CR3 without its PCID, CR4 without PCIDE, CR0,
    /// then PCIDE and the PCID, each through KVM's checked writes (so PCIDE needs long mode).
    mutating func rsmEnterProtectedMode(cr0: UInt64, cr3: UInt64, cr4: UInt64, owner: Owner) -> Bool {
        let pcid = cr4 & CR4.pcide != 0 ? cr3 & 0xfff : 0
        if !kvmSetCr3(cr3 & ~pcid, owner: owner) { return false }
        if !kvmSetCr4(cr4 & ~CR4.pcide, owner: owner) { return false }
        if !kvmSetCr0(cr0, owner: owner) { return false }
        if cr4 & CR4.pcide != 0 {
            if !kvmSetCr4(cr4, owner: owner) { return false }
            if pcid != 0 && !kvmSetCr3(cr3, owner: owner) { return false }
        }
        return true
    }
}
