// The emulated architectural #VMEXIT from L2 to L1 (reference §3.2).

extension Vcpu {
    /// nested_svm_simple_vmexit (arch/x86/kvm/svm/svm.h)
    mutating func nestedSvmSimpleVmexit(_ exitCode: UInt64) {
        vmcb02.control.exitCode = exitCode
        vmcb02.control.exitInfo1 = 0
        vmcb02.control.exitInfo2 = 0
        nestedSvmVmexit()
    }

    /// nested_svm_vmexit (arch/x86/kvm/svm/nested.c): write vmcb12, switch to vmcb01, restore L1, GIF=0.
    mutating func nestedSvmVmexit() {
        // Observables: the #VMEXIT with the controls that routed it, and whether an emulated entry
        // into L2 was still waiting for the CPU.
        stepVmexits.append(NestedVmexitFact(exitCode: vmcb02.control.exitCode, intercepts: nested.ctl.intercepts,
                                            msrpmBasePa: nested.ctl.msrpmBasePa))
        if let e = pendingL2Entry {
            l2EntryOvertaken = OvertakenL2Entry(entry: e, vmexitCode: vmcb02.control.exitCode)
            pendingL2Entry = nil
        }
        // nested_svm_vmexit_update_vmcb12: a vmcb12 that cannot be mapped shuts L1 down (P3).
        if var vmcb12 = memory.mapVmcb(nested.vmcb12Gpa) {
            vmcb12.save.efer = efer
            vmcb12.save.cr0 = cr0
            vmcb12.save.cr3 = cr3
            vmcb12.save.cr2 = cr2
            vmcb12.save.cr4 = cr4
            vmcb12.save.rflags = vmcb02.save.rflags
            vmcb12.save.rip = rip
            vmcb12.save.rsp = rsp
            vmcb12.save.rax = rax
            vmcb12.save.cpl = vmcb02.save.cpl
            vmcb12.control.exitCode = vmcb02.control.exitCode
            vmcb12.control.exitInfo1 = vmcb02.control.exitInfo1
            vmcb12.control.exitInfo2 = vmcb02.control.exitInfo2
            vmcb12.control.intState = vmcb02.control.intState
            // NextRIP is reported only to an L1 that has NRIPS.
            if config.nripsEnabled { vmcb12.control.nextRip = vmcb02.control.nextRip }
            vmcb12.control.eventInj = 0
            vmcb12.control.intCtl = nested.ctl.intCtl
            memory.writeVmcb(nested.vmcb12Gpa, vmcb12)
        } else if !has(.tripleFaultOnVmexitMapFailure) {
            // [B18] without 1b30e7551767 ("KVM: nSVM: Triple fault if mapping VMCB12 fails on nested
            // #VMEXIT"): #GP and an early return, with the vCPU still in guest mode on vmcb02.
            kvmQueueException(Vector.gp)
            return
        } else {
            makeRequest(.tripleFault)
        }
        lastVmexitCode = vmcb02.control.exitCode

        guestMode = false                          // leave_guest_mode
        nested.vmcb12Gpa = 0
        // kvm_warn_on_nested_run_pending: no #VMEXIT between VMRUN/RSM emulation and the entry to L2.
        if nestedRunPending == 1 { warn(.nestedRunPendingOnVmexit) }
        clearRequest(.getNestedStatePages)

        svmSwitchVmcb(.vmcb01)
        if !nested.ctl.intercepts.contains(.intr) { makeRequest(.event) }
        svmSetGif(false)
        nested.ctl.nestedCr3 = 0

        // Restore L1's state from vmcb01.save: every restored register is L1's again.
        let l1 = vmcb01.save
        kvmSetRflags(l1.rflags, owner: .l1)
        svmSetEfer(l1.efer, owner: .l1)
        svmSetCr0(l1.cr0 | CR0.pe, owner: .l1)
        svmSetCr4(l1.cr4, owner: .l1)
        rax = l1.rax; owners.rax = .l1
        if has(.restoreL1RspOnVmexit) { rsp = l1.rsp; owners.rsp = .l1 }
        rip = l1.rip; owners.rip = .l1

        makeRequest([.mmuSync, .tlbFlushCurrent])   // nested_svm_transition_tlb_flush
        // nested_svm_load_cr3 with PDPTR reload: an illegal L1 CR3, or for an L1 in legacy PAE paging
        // one whose PDPTEs cannot be read, shuts L1 down (P3).
        if !nestedSvmLoadCr3(l1.cr3, nestedNpt: false, reloadPdptrs: true, owner: .l1) && has(.tripleFaultOnVmexitCr3Failure) {
            // [B18] without 5d291ef0585e ("KVM: nSVM: Triple fault if restore host CR3 fails on
            // nested #VMEXIT"): the error was ignored and L1 ran on with L2's CR3.
            makeRequest(.tripleFault)
        }
        // kvm_clear_exception_queue, kvm_clear_interrupt_queue: what was picked up for L2 does not
        // reach L1.
        exception = nil
        injectedIrq = false
        // L1 single-stepping its VMRUN (TF in the RFLAGS VMRUN saved) gets its #DB now, before its
        // next instruction.
        if vmcb01.save.rflags & RFLAGS.tf != 0 { kvmQueueException(Vector.db) }
        // What the architecture promises here: L1 gets back exactly what its VMRUN saved (APM 15.6),
        // unless the restore failed and L1 is shut down instead.
        if let saved = l1AtVmrun, case .none = l1RestoreMismatch, !requests.contains(.tripleFault), saved != l1Registers {
            l1RestoreMismatch = L1RestoreRecord(atVmrun: saved, afterVmexit: l1Registers)
        }
        l1AtVmrun = nil
    }
}
