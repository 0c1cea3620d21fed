// KVM_RUN: entry bookkeeping, the request/event servicing of vcpu_enter_guest, and the hardware
// entry (reference §6.1, §8.2, §9.1, §12.2 items 6-7).

/// How an attempt to enter the guest ended.
public enum EntryResult: Equatable, Sendable {
    /// The CPU is running guest code at this level.
    case entered(Mode)
    /// vcpu_enter_guest returned 0: KVM_RUN returns to userspace.
    case exit(ExitReason)
    /// kvm_vcpu_exit_request saw pending work (a signal) after requests and events were serviced: the
    /// entry is cancelled and vcpu_run returns -EINTR (KVM_EXIT_INTR) without entering.
    case cancelled
    /// The CPU entered the guest at this level, but every entry ends in the same exit, which KVM
    /// handles without effect: KVM_RUN returns only when a signal comes (ExitReason.hang).
    case livelock(Mode)
}

extension Vcpu {
    /// kvm_arch_vcpu_ioctl_run entry, with kvm_x86_vcpu_pre_run (arch/x86/kvm/x86.c): a KVM_RUN without
    /// immediate_exit or sync_regs (KvmRunDoors.swift).
    public mutating func kvmRunBegin() {
        kvmVcpuIoctlRunBegin(immediateExit: false)
        kvmX86VcpuPreRun()
    }

    /// A new operation of the VMM's begins: `lastVmexitCode` then tells the #VMEXIT of that operation
    /// only (a guest instruction clears it again for itself).
    public mutating func beginStep() {
        lastVmexitCode = nil
        lastInjected = nil
        stepVmexits.removeAll()
        l2EntryOvertaken = nil
    }

    /// KVM_RUN returns to userspace (post_kvm_run_save).
    public mutating func kvmRunEnd(_ reason: ExitReason) {
        if reason == .intr { svmKickExit() }
        wantsToRun = false
    }

    /// The CPU leaves the guest because KVM was kicked (a request from userspace, an SMI, an INIT):
    /// an exit like any other. The tail of svm_vcpu_run syncs into the cached vmcb12 what the CPU
    /// wrote in vmcb02 (nested_sync_control_from_vmcb02), and svm_handle_exit reads CR3 back.
    public mutating func svmKickExit() {
        if guestMode { nestedSyncControlFromVmcb02() }
        svmSyncCrsFromVmcb()
    }

    /// Executes one guest instruction at the running level and handles its exit.
    public mutating func runGuestInstruction(_ insn: GuestInstruction) -> ExitHandling {
        executeGuestInstruction(insn)
    }

    /// vcpu_enter_guest (arch/x86/kvm/x86.c): service requests and events, then enter the guest, unless
    /// `signalPending` (userspace's signal) cancels the entry just before it.
    public mutating func vcpuEnterGuest(signalPending: Bool = false) -> EntryResult {
        lastDelivered = nil                        // an observable of this entry only
        var round = 0
        while true {
            round += 1
            if requests.contains(.getNestedStatePages) {
                clearRequest(.getNestedStatePages)
                if let failure = svmGetNestedStatePages() { return .exit(failure) }
            }
            if requests.contains(.tripleFault) {
                if guestMode { nestedSvmTripleFault() }
                if requests.contains(.tripleFault) {
                    clearRequest(.tripleFault)
                    return .exit(.shutdown)
                }
            }
            // Events are looked at only when something asked for it (KVM_REQ_EVENT); an event left
            // pending with no request waits, e.g. an INIT behind a GIF that the CPU set alone.
            var unblocked = true
            if requests.contains(.event) {
                clearRequest(.event)
                let initServiced = kvmApicAcceptEvents()
                unblocked = kvmCheckAndInjectEvents() && initServiced
                // req_immediate_exit asks again for the next round.
                if !unblocked { makeRequest(.event) }
            }
            if vmDead { return .exit(.vmDead) }
            // A request raised while injecting cancels this entry (kvm_vcpu_exit_request).
            if round < 4 && !requests.intersection([.tripleFault, .getNestedStatePages]).isEmpty { continue }
            // kvm_vcpu_exit_request: a pending signal cancels the entry with the requests serviced (real
            // 6.12: a triple fault queued by KVM_SET_VCPU_EVENTS became L1's #VMEXIT(SHUTDOWN) in the
            // KVM_RUN a signal ended). The queued exception stays queued (svm_cancel_injection).
            if signalPending { return .cancelled }
            // Without the fix, L1 on the stale nested CR3 a forced leave left faults on a page that
            // root never mapped, and KVM fixes the fault in the root it believes current: the same NPF
            // forever, until a signal (real 6.1.192). Each NPF exit reads CR0 and CR3 back
            // (svm_handle_exit), and an event being delivered goes back to the queue
            // (svm_complete_interrupts), so none is ever delivered.
            if vmcbRootStale && !guestMode && !requests.contains(.loadMmuPgd) && !has(.npfProgressOnStaleRoot) {
                let queued = exception
                _ = svmVcpuRun()
                exception = queued
                lastInjected = nil
                svmSyncCrsFromVmcb()
                return .livelock(mode)
            }
            // The CPU refused vmcb02 and KVM made L1's #VMEXIT(INVALID) of it: enter L1 instead.
            if !svmVcpuRun() { continue }
            // Blocked events asked for an immediate exit, with KVM_REQ_EVENT set again after the
            // requests were consumed: service them before the guest runs.
            if !unblocked { makeRequest(.event) }
            if !unblocked && round < 4 { continue }
            return .entered(mode)
        }
    }

    /// svm_vcpu_run (arch/x86/kvm/svm/svm.c): sync the register caches into the VMCB and VMRUN. False
    /// when the CPU's VMRUN of vmcb02 failed and KVM reflected it to L1 (svm_handle_exit).
    mutating func svmVcpuRun() -> Bool {
        // One write of the current VMCB's save area: every `vmcb` access is a call (its accessor
        // picks vmcb01 or vmcb02), and entries are the fuzz target's most frequent event.
        var save = vmcb.save
        save.rax = rax
        save.rsp = rsp
        save.rip = rip
        // svm_load_mmu_pgd: with NPT the VMCB runs the guest's own CR3, which is how vmcb01.save.cr3
        // holds L1's CR3 for nested_svm_vmexit to restore (nested_svm_vmrun saves it only without NPT).
        // A pending KVM_REQ_LOAD_MMU_PGD writes CR3 even on a root a forced leave left stale (real 6.12:
        // KVM_SET_NESTED_STATE into L2, then out of it before any entry: L1 runs on L2's CR3).
        let loadsPgd = requests.contains(.loadMmuPgd)
        if config.npt && (!mmuRootStale || loadsPgd) { save.cr3 = cr3 }
        if loadsPgd { vmcbRootStale = false }
        vmcb.save = save
        // The queued exception is delivered by this entry (kvm_inject_exception): the level that runs
        // sees it, which is what the step record's exception reports for a plain KVM_RUN.
        if let e = exception { lastInjected = e.vector }
        exception = nil
        // vcpu_enter_guest consumed these before entering.
        requests.remove([.event, .recalcIntercepts, .apicvUpdate, .mmuSync, .tlbFlushCurrent, .tlbFlushGuest, .loadMmuPgd])
        guard guestMode else { return true }
        // pre_svm_run (arch/x86/kvm/svm/svm.c): an L1 without NRIPS advanced L2's RIP before VMRUN,
        // so the CPU must push L2's current RIP, known only now that userspace cannot change it
        // (only a host CPU with NRIPS reads NextRIP at all).
        if nestedRunPending != 0 && !config.nripsEnabled && config.hostNrips && has(.stuffNextRipAtVcpuRun) {
            vmcb02.control.nextRip = rip
        }
        // Without nested_svm_check_event_inj KVM leaves vmcb12's EVENTINJ to the CPU, whose VMRUN of
        // vmcb02 then fails (SVM_EXIT_ERR); svm_handle_exit hands that to L1 as #VMEXIT(INVALID)
        // (nested_svm_intercept). Real 6.1.192 under TCG: vmcb12 exit 0xffffffff for vector 32.
        let e = vmcb02.control.eventInj
        if config.cpu.vmrunRefusesEventInj(e) {
            nestedRunPending = 0
            pendingL2Entry = nil                   // the CPU tried it: not overtaken by KVM
            nestedSyncControlFromVmcb02()
            nestedSvmSimpleVmexit(config.cpu.vmrunFailureExitCode)
            return false
        }
        // VMRUN delivers EVENTINJ; a software interrupt pushes NextRIP on a host CPU with NRIPS, the
        // current RIP on one without (L1 advanced it).
        if e & EventInj.valid != 0 {
            let soft = Vcpu.isEvtinjSoft(e) && config.hostNrips
            lastDelivered = DeliveredEvent(eventInj: e, returnRip: soft ? vmcb02.control.nextRip : rip)
            vmcb02.control.eventInj = 0
        }
        nestedRunPending = 0
        pendingL2Entry = nil                       // the CPU entered L2
        svmSyncAfterL2Run()
        return true
    }

    /// The tail of svm_vcpu_run after L2 ran (arch/x86/kvm/svm/svm.c): the NextRIP sync and
    /// nested_sync_control_from_vmcb02 (arch/x86/kvm/svm/nested.c), so that the cached vmcb12 that
    /// KVM_GET_NESTED_STATE reports carries the fields the CPU wrote.
    mutating func svmSyncAfterL2Run() {
        nestedSyncControlFromVmcb02()
        // [B26] without 778d8c1b2a6f ("KVM: nSVM: Sync NextRIP to cached vmcb12 after VMRUN of L2"):
        // the cache kept vmcb12's NextRIP.
        if has(.syncNextRipToCachedVmcb12) { nested.ctl.nextRip = vmcb02.control.nextRip }
    }

    /// nested_sync_control_from_vmcb02 (arch/x86/kvm/svm/nested.c): the control fields the CPU writes
    /// while L2 runs, copied into the cached vmcb12 (what KVM_GET_NESTED_STATE and the #VMEXIT report).
    mutating func nestedSyncControlFromVmcb02() {
        nested.ctl.eventInj = vmcb02.control.eventInj
        // [B26] without 03bee264f8eb ("KVM: nSVM: Sync interrupt shadow to cached vmcb12 after VMRUN
        // of L2"): the cache kept vmcb12's interrupt shadow.
        if has(.syncIntShadowToCachedVmcb12) { nested.ctl.intState = vmcb02.control.intState }
        // With nested vGIF, L2's own V_GIF lives in vmcb02's int_ctl.
        if nestedVgifEnabled {
            nested.ctl.intCtl = nested.ctl.intCtl & ~IntCtl.vGif | vmcb02.control.intCtl & IntCtl.vGif
        }
    }

    /// svm_inject_irq (arch/x86/kvm/svm/svm.c): the IRQ goes into EVENTINJ of the current VMCB.
    mutating func svmInjectIrq() {
        // [B23] without f17c31c48e5c ("KVM: SVM: Don't BUG if userspace injects an interrupt with
        // GIF=0"): a BUG_ON(!gif) that userspace reaches through KVM_SET_VCPU_EVENTS.
        if !has(.noBugOnIrqWithoutGif) && !gif { warn(.injectIrqWithoutGif) }
        injectedIrq = false
    }

    /// kvm_event_needs_reinjection (arch/x86/kvm/x86.h), for the events the model re-injects ahead of
    /// anything new: an injected exception or IRQ. Nested events (INIT, SMI #VMEXITs) wait for them too.
    var kvmEventNeedsReinjection: Bool { exception?.injected == true || injectedIrq }

    /// nested_svm_inject_exception_vmexit (arch/x86/kvm/svm/nested.c): the exception becomes a #VMEXIT
    /// to L1 with the exception's exit code; exit_info_1 gets its error code, exit_info_2 for #PF the
    /// faulting address (CR2: the model has no payloads); otherwise both keep what they held.
    mutating func nestedSvmInjectExceptionVmexit(_ e: KvmException) {
        // L1 gets the exception as a #VMEXIT, L2 never sees it (real 6.12.117: no exception in L2,
        // vmcb12 exit code 0x40 + vector).
        exception = nil
        lastInjected = nil
        vmcb02.control.exitCode = SVMExit.exceptionBase + UInt64(e.vector)
        if let code = e.errorCode { vmcb02.control.exitInfo1 = UInt64(code) }
        if e.vector == Vector.pf { vmcb02.control.exitInfo2 = cr2 }
        nestedSvmVmexit()
    }

    /// svm_get_nested_state_pages (arch/x86/kvm/svm/nested.c): nil on success, else the exit reason.
    mutating func svmGetNestedStatePages() -> ExitReason? {
        if !guestMode {
            warn(.getNestedStatePagesNotGuest)
            return nil
        }
        let paePaging = isPaging && cr4 & CR4.pae != 0 && !isLongMode
        if paePaging && !nestedNptEnabled && !GuestPhys.isMappable(cr3) { return .unknown }
        if !nestedSvmMergeMsrpm() { return .internalError }
        return nil
    }

    /// kvm_check_and_inject_events with kvm_check_nested_events / svm_check_nested_events
    /// (arch/x86/kvm/x86.c, arch/x86/kvm/svm/nested.c). False when nested_run_pending blocks events.
    mutating func kvmCheckAndInjectEvents() -> Bool {
        // An event to re-inject (kvm_event_needs_reinjection) blocks new events other than exceptions
        // until the entry that delivers it. A queued exception (injected or pending) goes first; else an
        // IRQ interrupted by the last exit is put into the current VMCB's EVENTINJ here.
        let needsReinjection = kvmEventNeedsReinjection
        if injectedIrq && exception == nil { svmInjectIrq() }
        if guestMode {
            let blockNested = nestedRunPending != 0 && has(.holdEventsWhileRunPending)
            // A pending exception L1 intercepts became exception_vmexit (at queue time, or at KVM_RUN for
            // one userspace set); an injected one is re-injected into L2 whatever L1 intercepts.
            if let e = exception, !e.injected,
               nested.ctl.intercepts.intercepts(exitCode: SVMExit.exceptionBase + UInt64(e.vector)) {
                if blockNested { return false }
                nestedSvmInjectExceptionVmexit(e)
            } else if smiPending && gif && !smm {
                if blockNested || needsReinjection { return false }
                if nested.ctl.intercepts.contains(.smi) { nestedSvmSimpleVmexit(SVMExit.smi) }
            }
        }
        // An SMI waits for GIF, for the nested run to reach L2 (svm_smi_allowed) and for a re-injected
        // event to be delivered (can_inject).
        if smiPending && gif && !smm {
            if (guestMode && nestedRunPending != 0 && has(.holdEventsWhileRunPending)) || needsReinjection { return false }
            smiPending = false
            enterSmm()
        }
        return true
    }
}
