// VMRUN: permission checks, vmcb12 consistency checks, and entry into guest mode (reference §4).

/// What a guest instruction's emulation asks the run loop to do next.
public enum ExitHandling: Equatable, Sendable {
    /// Resume the guest (the handler returned 1).
    case resume
    /// Return to userspace with this exit reason (the handler returned 0).
    case exitToUserspace(ExitReason)
    /// KVM_RUN fails with an errno (the handler returned a negative value).
    case error(Errno)
}

extension Vcpu {
    /// nested_svm_check_permissions (arch/x86/kvm/svm/nested.c): #UD without SVME or paging, #GP at CPL>0.
    mutating func nestedSvmCheckPermissions() -> Bool {
        if efer & EFER.svme == 0 && has(.udForSvmInsnsWithoutSvme) || !isPaging {
            kvmQueueException(Vector.ud)
            return false
        }
        if vmcb.save.cpl != 0 {
            kvmQueueException(Vector.gp)
            return false
        }
        return true
    }

    /// __nested_copy_vmcb_control_to_cache (arch/x86/kvm/svm/nested.c): sanitise what L1 controls.
    static func nestedCopyVmcbControlToCache(_ from: VmcbControl, guestNpt: Bool) -> VmcbControl {
        var c = VmcbControl()
        c.intercepts = from.intercepts
        c.asid = from.asid
        c.msrpmBasePa = from.msrpmBasePa & GuestPhys.pageMask
        c.iopmBasePa = from.iopmBasePa & GuestPhys.pageMask
        c.intCtl = from.intCtl
        // NP is dropped when the guest has no nested paging.
        c.miscCtl = guestNpt ? from.miscCtl & MiscCtl.enableNp : 0
        c.nestedCr3 = from.nestedCr3
        c.exitCode = from.exitCode
        c.exitInfo1 = from.exitInfo1
        c.exitInfo2 = from.exitInfo2
        c.nextRip = from.nextRip
        c.eventInj = from.eventInj & ~EventInj.reserved
        c.intState = from.intState & IntState.shadow
        return c
    }

    /// nested_svm_check_event_inj (arch/x86/kvm/svm/nested.c): an EVENTINJ VMRUN can deliver.
    static func nestedSvmCheckEventInj(_ e: UInt32) -> Bool {
        EventInj.isDeliverable(e, takesException: Vector.isDefinedException)
    }

    /// is_evtinj_soft (arch/x86/kvm/svm/nested.c): INTn, or INT3 / INTO injected as exceptions.
    static func isEvtinjSoft(_ e: UInt32) -> Bool {
        guard e & EventInj.valid != 0 else { return false }
        let type = e & EventInj.typeMask, vector = UInt8(e & EventInj.vectorMask)
        return type == EventInj.typeSoft || (type == EventInj.typeExept && (vector == Vector.bp || vector == Vector.of))
    }

    /// nested_vmcb_check_controls (arch/x86/kvm/svm/nested.c)
    func nestedVmcbCheckControls(_ c: VmcbControl) -> Bool {
        if !c.intercepts.contains(.vmrun) { return false }
        if c.asid == 0 { return false }
        if c.miscCtl & MiscCtl.enableNp != 0 && !config.cpu.isLegalGpa(c.nestedCr3) { return false }
        let msrpm = (c.msrpmBasePa &+ GuestPhys.pageSize &- 1) & GuestPhys.pageMask
        if !config.cpu.isLegalGpa(msrpm) || !config.cpu.isLegalGpa(msrpm &+ GuestPhys.msrpmSize &- 1) { return false }
        let iopm = (c.iopmBasePa &+ GuestPhys.pageSize &- 1) & GuestPhys.pageMask
        if !config.cpu.isLegalGpa(iopm) || !config.cpu.isLegalGpa(iopm &+ GuestPhys.iopmSize &- 1) { return false }
        // 0977cfac6e76: V_NMI_ENABLE needs the NMI intercept (before it the bit was ignored).
        if has(.rejectVnmiWithoutNmiIntercept) && c.intCtl & IntCtl.vNmiEnable != 0 && !c.intercepts.contains(.nmi) {
            return false
        }
        if has(.checkEventInj) && !Vcpu.nestedSvmCheckEventInj(c.eventInj) { return false }
        return true
    }

    /// nested_vmcb_check_save (arch/x86/kvm/svm/nested.c)
    @inline(__always)
    func nestedVmcbCheckSave(_ s: VmcbSave) -> Bool {
        // [B04] without 3c346c0c60ab ("KVM: SVM: ensure that EFER.SVME is set when running nested
        // guest or on nested vmexit"): a vmcb12 / L1 save area without SVME passed.
        if s.efer & EFER.svme == 0 && has(.requireSvmeInVmcb12Efer) { return false }
        if s.cr0 & CR0.cd == 0 && s.cr0 & CR0.nw != 0 { return false }
        if s.cr0 >> 32 != 0 { return false }
        if !DebugReg.isValid(s.dr6) || !DebugReg.isValid(s.dr7) { return false }
        if s.efer & EFER.lme != 0 && s.cr0 & CR0.pg != 0 {
            if s.cr4 & CR4.pae == 0 || s.cr0 & CR0.pe == 0 || !kvmIsLegalCr3(s.cr3) { return false }
            // 96bd3e76a171: a long-mode CS may not have both L and D ([B20] without it: no such check).
            if s.csAttrib & SegAttrib.l != 0 && s.csAttrib & SegAttrib.db != 0 && has(.checkLongModeCsLAndD) {
                return false
            }
        }
        if !config.cpu.isValidCr4(s.cr4) { return false }
        if !kvmValidEfer(s.efer) { return false }
        return true
    }

    /// nested_svm_check_cached_vmcb12
    @inline(__always)
    func nestedSvmCheckCachedVmcb12() -> Bool {
        nestedVmcbCheckSave(nested.save) && nestedVmcbCheckControls(nested.ctl)
    }

    /// nested_svm_copy_vmcb12_to_cache (arch/x86/kvm/svm/nested.c): nil when vmcb12 cannot be mapped,
    /// else whether it passed the checks. On a check failure vmcb12 gets VMEXIT_INVALID and GIF is cleared.
    mutating func nestedSvmCopyVmcb12ToCache(_ gpa: UInt64) -> Bool? {
        guard var vmcb12 = memory.mapVmcb(gpa) else { return nil }
        nested.ctl = Vcpu.nestedCopyVmcbControlToCache(vmcb12.control, guestNpt: config.npt)
        nested.save = vmcb12.save
        // [B20] without e0b6f031d64c ("KVM: nSVM: Drop the non-architectural consistency check for
        // NP_ENABLE"): NP_ENABLE without NPT failed VMRUN instead of being ignored.
        let npWithoutNpt = !has(.ignoreNpEnableWithoutNpt) && vmcb12.control.miscCtl & MiscCtl.enableNp != 0 && !config.npt
        let passed = nestedSvmCheckCachedVmcb12() && !npWithoutNpt
        // Another vCPU's write to the page lands here, after KVM's one read: the checked copy is what
        // L2 gets, the write only changes guest memory.
        if let racing = concurrentVmcb12Write {
            concurrentVmcb12Write = nil
            if memory.writeVmcb(gpa, racing) {
                vmcb12 = racing
                // [B05] without a58d9166a756 ("KVM: SVM: load control fields from VMCB12 before checking
                // them"): the checks ran on the controls in guest memory and the controls for L2 were then
                // read from guest memory a second time, so what L2 got was the racing image's, unchecked.
                if passed && !has(.checkCopiedVmcb12Controls) {
                    nested.ctl = Vcpu.nestedCopyVmcbControlToCache(racing.control, guestNpt: config.npt)
                }
            }
        }
        if passed { return true }
        vmcb12.control.exitCode = SVMExit.err
        vmcb12.control.exitInfo1 = 0
        vmcb12.control.exitInfo2 = 0
        // 69b721a86d0d ("KVM: nSVM: Clear EVENTINJ fields in vmcb12 on nested #VMEXIT"), in 6.12.117
        // too: the event was not delivered. No operation can tell a kernel without it (a `vmcb`
        // operation rewrites the whole page), so it is not a fix flag.
        vmcb12.control.eventInj = 0
        memory.writeVmcb(gpa, vmcb12)
        lastVmexitCode = SVMExit.err
        svmSetGif(false)
        return false
    }

    /// nested_svm_vmrun (arch/x86/kvm/svm/nested.c), reached from vmrun_interception in L1.
    mutating func nestedSvmVmrun() -> ExitHandling {
        guard nestedSvmCheckPermissions() else { return .resume }
        // [B16] without fb79f566e4c9 ("KVM: nSVM: Check that VM_HSAVE_PA MSR was set before VMRUN").
        if nested.hsaveMsr == 0 && has(.requireHsavePaForVmrun) {
            kvmQueueException(Vector.gp)
            return .resume
        }
        if smm {
            kvmQueueException(Vector.ud)
            return .resume
        }
        if !nested.initialized {
            warn(.vmrunNotInitialized)
            return .error(.einval)
        }
        let vmcb12Gpa = rax
        if !config.cpu.pageAddressValid(vmcb12Gpa) {
            kvmQueueException(Vector.gp)
            return .resume
        }
        guard let passed = nestedSvmCopyVmcb12ToCache(vmcb12Gpa) else {
            // [B19] without 01ddcdc55e09 ("KVM: nSVM: Always inject a #GP if mapping VMCB12 fails on
            // nested VMRUN"): only a map failure of -EINVAL injected #GP; any other one skipped the
            // instruction and resumed L1 as if VMRUN had done nothing. The model has one kind of map
            // failure (an unbacked GPA) and sends it down that other path.
            if !has(.injectGpOnVmcb12MapFailure) {
                svmSkipEmulatedInstruction(.vmrun(gpa: vmcb12Gpa))
                return .resume
            }
            // The kvm-x86 tree then sends the failure to userspace (kvm_handle_memory_failure:
            // emulation-failure exit, RIP not advanced); the stable kernels inject the #GP.
            if !has(.exitOnVmcb12MapFailure) {
                kvmQueueException(Vector.gp)
                return .resume
            }
            return .exitToUserspace(.internalError)
        }
        svmSkipEmulatedInstruction(.vmrun(gpa: vmcb12Gpa))
        if !passed { return .resume }              // L1 resumes after VMRUN with VMEXIT_INVALID, GIF=0

        // Save L1's state into vmcb01.save for the #VMEXIT to restore.
        vmcb01.save.efer = efer
        vmcb01.save.cr0 = cr0
        vmcb01.save.cr4 = cr4
        vmcb01.save.rflags = rflags
        vmcb01.save.rip = rip
        vmcb01.save.rax = rax
        vmcb01.save.rsp = rsp
        if !config.npt { vmcb01.save.cr3 = cr3 }
        l1AtVmrun = l1Registers
        nestedRunPending = 1

        if !enterSvmGuestMode(vmcb12Gpa, fromVmrun: true) || !nestedSvmMergeMsrpm() {
            nestedRunPending = 0
            vmcb02.control.exitCode = SVMExit.err
            vmcb02.control.exitInfo1 = 0
            vmcb02.control.exitInfo2 = 0
            nestedSvmVmexit()
            return .resume
        }
        pendingL2Entry = EmulatedL2Entry(source: .vmrun, userspaceHadControl: false)
        return .resume
    }

    /// enter_svm_guest_mode (arch/x86/kvm/svm/nested.c). On failure the vCPU is left in guest mode
    /// on vmcb02 and the caller unwinds.
    mutating func enterSvmGuestMode(_ vmcb12Gpa: UInt64, fromVmrun: Bool) -> Bool {
        nested.vmcb12Gpa = vmcb12Gpa
        if current == .vmcb02 { warn(.enterGuestModeOnVmcb02) } else { vmcb01Gif = gif }
        svmSwitchVmcb(.vmcb02)
        nestedVmcb02PrepareControl(vmcb12Rip: nested.save.rip)
        nestedVmcb02PrepareSave()
        if !nestedSvmLoadCr3(nested.save.cr3, nestedNpt: nestedNptEnabled, reloadPdptrs: fromVmrun, owner: .l2) {
            return false
        }
        if !fromVmrun { makeRequest(.getNestedStatePages) }
        svmSetGif(true)
        return true
    }

    /// nested_npt_enabled: L1 asked for nested paging and KVM uses NPT.
    var nestedNptEnabled: Bool { config.npt && nested.ctl.miscCtl & MiscCtl.enableNp != 0 }

    /// nested_vmcb02_prepare_control (arch/x86/kvm/svm/nested.c), reduced to mode, intercepts, int_ctl
    /// and event injection. `vmcb12Rip` is what the pre-a0592461f39c code took as L2's current RIP.
    mutating func nestedVmcb02PrepareControl(vmcb12Rip: UInt64) {
        makeRequest([.mmuSync, .tlbFlushCurrent])
        guestMode = true                           // enter_guest_mode
        vmcb02.control.asid = nested.ctl.asid
        vmcb02.control.intCtl = nested.ctl.intCtl
        vmcb02.control.intState = nested.ctl.intState
        vmcb02.control.eventInj = nested.ctl.eventInj
        if !has(.stuffNextRipAtVcpuRun) {
            // [B25] without a0592461f39c ("KVM: nSVM: Delay stuffing L2's current RIP into NextRIP
            // until vCPU run"): for L1 without NRIPS, NextRIP was stuffed here from a RIP the caller
            // passed, which KVM_SET_NESTED_STATE took from vmcb02 before L2's registers were restored.
            // A host without NRIPS left NextRIP alone (its CPU never reads it).
            if config.nripsEnabled {
                vmcb02.control.nextRip = nested.ctl.nextRip
            } else if config.hostNrips {
                vmcb02.control.nextRip = vmcb12Rip
            }
        } else if config.nripsEnabled || nestedRunPending == 0 {
            // L1 without NRIPS advanced L2's RIP itself; svmVcpuRun stuffs it before the first run.
            // After that first run NextRIP is the CPU's (or KVM's) and travels in the cache.
            vmcb02.control.nextRip = nested.ctl.nextRip
        }
        vmcb02.control.msrpmBasePa = vmcb01.control.msrpmBasePa
        nestedVmcb02RecalcIntercepts()
    }

    /// nested_vmcb02_recalc_intercepts: vmcb02 = vmcb01 ∪ vmcb12, plus what L0 must always see.
    mutating func nestedVmcb02RecalcIntercepts() {
        if current != .vmcb02 { warn(.recalcInterceptsNotVmcb02) }
        var i = vmcb01Intercepts.union(nested.ctl.intercepts)
        // VMLOAD/VMSAVE operate on L1 physical memory: L0 emulates them for L2 (CVE-2021-3656).
        i.insert(.vmload)
        i.insert(.vmsave)
        vmcb02.control.intercepts = i
    }

    /// nested_vmcb02_prepare_save (arch/x86/kvm/svm/nested.c): load L2's registers from vmcb12.
    mutating func nestedVmcb02PrepareSave() {
        // 1c4c84a643b7: the CPU's VMRUN ignores EFER.LMA without LME, so KVM drops it from the cached
        // vmcb12 too instead of loading an EFER that KVM_SET_SREGS refuses ([B30] without it: loaded as
        // vmcb12 has it). As in Debian 6.12.117's backport (the upstream text is not in our snapshot).
        if has(.ignoreLmaWithoutLmeInL2) && nested.save.efer & EFER.lme == 0 { nested.save.efer &= ~EFER.lma }
        let s = nested.save
        vmcb02.save.cpl = s.cpl
        kvmSetRflags(s.rflags, owner: .l2)
        svmSetEfer(s.efer, owner: .l2)
        svmSetCr0(s.cr0, owner: .l2)
        svmSetCr4(s.cr4, owner: .l2)
        cr2 = s.cr2
        rax = s.rax; owners.rax = .l2
        rsp = s.rsp; owners.rsp = .l2
        rip = s.rip; owners.rip = .l2
        vmcb02.save.rax = s.rax
        vmcb02.save.rsp = s.rsp
        vmcb02.save.rip = s.rip
    }

    /// nested_svm_load_cr3 (arch/x86/kvm/svm/nested.c)
    mutating func nestedSvmLoadCr3(_ value: UInt64, nestedNpt: Bool, reloadPdptrs: Bool, owner: Owner) -> Bool {
        guard kvmIsLegalCr3(value) else { return false }
        // Legacy PAE paging without nested NPT reads the PDPTEs from guest memory.
        let paePaging = isPaging && cr4 & CR4.pae != 0 && !isLongMode
        if reloadPdptrs && !nestedNpt && paePaging && !GuestPhys.isMappable(value) { return false }
        cr3 = value
        owners.cr3 = owner
        // kvm_init_mmu, not a reset: L1's root stays loaded while L2 runs.
        if guestMode { l1RootKept = true }
        // kvm_init_mmu and kvm_mmu_new_pgd: the next entry loads a root for this CR3 into the VMCB,
        // even after a forced leave left L1 on a stale one (real 6.12.117 enters L2 with vmcb12's CR3
        // after L2 cleared EFER.SVME, L1 ran on, and VMRUN came again; oracle campaign).
        mmuRootStale = false
        vmcbRootStale = false
        if !nestedNpt { makeRequest(.loadMmuPgd) }
        return true
    }

    /// nested_svm_merge_msrpm (arch/x86/kvm/svm/nested.c): false when L1's bitmap cannot be read.
    mutating func nestedSvmMergeMsrpm() -> Bool {
        // Without MSR_PROT vmcb02 keeps vmcb01's bitmap.
        guard nested.ctl.intercepts.contains(.msrProt) else { return true }
        let base = nested.ctl.msrpmBasePa
        if !GuestPhys.isMappable(base) || !GuestPhys.isMappable(base &+ GuestPhys.msrpmSize &- 1) { return false }
        nested.forceMsrBitmapRecalc = false
        return true
    }
}
