// vCPU RESET and INIT (reference §8).

extension Vcpu {
    /// The intercepts init_vmcb/svm_recalc_intercepts leave in vmcb01. STGI/CLGI are intercepted
    /// unless vGIF handles them, and always while L1's EFER.SVME is clear.
    var vmcb01Intercepts: InterceptSet {
        var i: InterceptSet = [.intr, .nmi, .smi, .initSignal, .msrProt, .shutdown, .vmrun, .vmmcall, .vmload, .vmsave]
        let l1Efer = guestMode ? vmcb01.save.efer : efer
        if !config.vgif || l1Efer & EFER.svme == 0 { i.insert([.stgi, .clgi]) }
        return i
    }

    /// init_vmcb (arch/x86/kvm/svm/svm.c), on vmcb01.
    mutating func initVmcb() {
        vmcb01.control = VmcbControl()
        vmcb01.control.intercepts = vmcb01Intercepts
        vmcb01.save.cpl = 0
        nested.vmcb12Gpa = GuestPhys.invalidGpa
        nested.lastVmcb12Gpa = GuestPhys.invalidGpa
        makeRequest(.recalcIntercepts)
        gif = true                                 // enable_gif
    }

    /// kvm_vcpu_reset (arch/x86/kvm/x86.c) with svm_vcpu_reset.
    public mutating func kvmVcpuReset(initEvent: Bool) {
        if !initEvent && (cr0 != 0 || cr3 != 0 || cr4 != 0) { warn(.resetNonzeroCrs) }
        // Observable: an INIT (or shutdown) reset while an emulated entry into L2 was pending.
        if let e = pendingL2Entry {
            l2EntryOvertaken = OvertakenL2Entry(entry: e, vmexitCode: nil)
            pendingL2Entry = nil
        }
        // SVM does not always exit on INIT or SHUTDOWN, so they can arrive while L2 is active.
        // [B08] without ed129ec9057f ("KVM: x86: forcibly leave nested mode on vCPU reset").
        if guestMode && has(.leaveNestedOnReset) { kvmLeaveNested() }
        if guestMode || smm { warn(.resetInGuestOrSmm) }
        guestMode = false
        smm = false
        smmInsideNmi = false
        smiPending = false
        exception = nil
        injectedIrq = false
        cr2 = 0
        makeRequest(.event)
        if !initEvent { smbase = 0x30000 }
        rax = 0
        rsp = 0

        initVmcb()

        kvmSetRflags(RFLAGS.fixed, owner: .host)
        rip = 0xfff0
        cr3 = 0
        kvmMmuResetContext()
        let oldCr0 = cr0
        // INIT keeps CD/NW; RESET sets them.
        svmSetCr0(CR0.et | (initEvent ? oldCr0 & (CR0.cd | CR0.nw) : CR0.cd | CR0.nw), owner: .host)
        svmSetCr4(0, owner: .host)
        svmSetEfer(0, owner: .host)
        if oldCr0 & CR0.pg != 0 || initEvent { makeRequest(.tlbFlushGuest) }
        owners.setAll(.host, current: current)
    }

    /// The INIT part of svm_check_nested_events (arch/x86/kvm/svm/nested.c) and kvm_apic_accept_events
    /// (arch/x86/kvm/lapic.c). Returns false when events are blocked by a pending nested run.
    mutating func kvmApicAcceptEvents() -> Bool {
        guard initPending else { return true }
        if guestMode {
            // svm_check_nested_events: a pending nested run, or an event to re-inject (an exception or an
            // IRQ userspace marked injected, kvm_event_needs_reinjection), blocks it: -EBUSY, retried after
            // the entry, so the event goes into L2 first and the #VMEXIT comes after.
            if nestedRunPending != 0 && has(.holdEventsWhileRunPending) || kvmEventNeedsReinjection { return false }
            if nested.ctl.intercepts.contains(.initSignal) {
                nestedSvmSimpleVmexit(SVMExit.initSignal)
            }
        }
        // INIT is latched in SMM and while GIF=0 (svm_apic_init_signal_blocked).
        if smm || !gif { return true }
        initPending = false
        kvmVcpuReset(initEvent: true)
        return true
    }
}
