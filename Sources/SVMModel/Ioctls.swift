// The vCPU ioctls userspace uses to read and stuff state (reference §7.1-7.3, §7.5).

/// struct kvm_regs, reduced.
public struct KvmRegs: Hashable, Sendable {
    public var rip: UInt64, rsp: UInt64, rax: UInt64, rflags: UInt64
    public init(rip: UInt64, rsp: UInt64, rax: UInt64, rflags: UInt64) {
        self.rip = rip; self.rsp = rsp; self.rax = rax; self.rflags = rflags
    }
}

/// struct kvm_sregs, reduced.
public struct KvmSregs: Hashable, Sendable {
    public var efer: UInt64, cr0: UInt64, cr2: UInt64, cr3: UInt64, cr4: UInt64
    public init(efer: UInt64, cr0: UInt64, cr2: UInt64, cr3: UInt64, cr4: UInt64) {
        self.efer = efer; self.cr0 = cr0; self.cr2 = cr2; self.cr3 = cr3; self.cr4 = cr4
    }
}

/// The MSRs QEMU saves and restores that matter here (kvm_put_msrs: MSR_VM_HSAVE_PA).
public struct KvmMsrs: Hashable, Sendable {
    public var hsavePa: UInt64
    public init(hsavePa: UInt64) { self.hsavePa = hsavePa }
}

/// struct kvm_vcpu_events.exception as a VMM with KVM_CAP_EXCEPTION_PAYLOAD (QEMU enables it) reads and
/// puts it: a queued exception, pending (not yet delivered: L1's exception intercepts decide where it
/// goes, kvm_arch_vcpu_ioctl_run) or injected (it was being delivered when the vCPU exited: it is
/// re-injected into the level that runs, whatever L1 intercepts), with its error code if it has one.
public struct KvmException: Hashable, Sendable {
    public var vector: UInt8
    public var injected: Bool
    /// has_error_code and error_code.
    public var errorCode: UInt32?
    public init(vector: UInt8, injected: Bool = false, errorCode: UInt32? = nil) {
        self.vector = vector; self.injected = injected; self.errorCode = errorCode
    }
}

/// struct kvm_vcpu_events, the SMM, triple-fault, interrupt and exception parts.
public struct KvmVcpuEvents: Hashable, Sendable {
    public var smm: Bool, smmInsideNmi: Bool, smiPending: Bool, latchedInit: Bool, tripleFault: Bool
    /// interrupt.injected
    public var interrupt: Bool
    /// interrupt.shadow (KVM_X86_SHADOW_INT_*): the current VMCB's interrupt shadow
    public var shadow: Bool
    /// The queued exception (pending or injected), nil when none is reported
    public var exception: KvmException?
    public init(smm: Bool, smmInsideNmi: Bool = false, smiPending: Bool = false, latchedInit: Bool = false,
                tripleFault: Bool = false, interrupt: Bool = false, shadow: Bool = false, exception: KvmException? = nil) {
        self.smm = smm; self.smmInsideNmi = smmInsideNmi; self.smiPending = smiPending
        self.latchedInit = latchedInit; self.tripleFault = tripleFault; self.interrupt = interrupt
        self.shadow = shadow; self.exception = exception
    }
}

extension Vcpu {
    /// KVM_GET_REGS
    public func getRegs() -> KvmRegs { KvmRegs(rip: rip, rsp: rsp, rax: rax, rflags: rflags) }

    /// KVM_SET_REGS → __set_regs (arch/x86/kvm/regs.c)
    public mutating func setRegs(_ r: KvmRegs) -> Errno {
        if vmDead { return .eio }
        rax = r.rax; owners.rax = .host
        rsp = r.rsp; owners.rsp = .host
        rip = r.rip; owners.rip = .host
        kvmSetRflags(r.rflags, owner: .host)
        // A pending exception (and the exception #VMEXIT it may have become) is dropped; an injected
        // one stays.
        if exception?.injected == false { exception = nil }
        makeRequest(.event)
        return .ok
    }

    /// KVM_GET_SREGS
    public func getSregs() -> KvmSregs { KvmSregs(efer: efer, cr0: cr0, cr2: cr2, cr3: cr3, cr4: cr4) }

    /// KVM_SET_SREGS → __set_sregs_common (arch/x86/kvm/regs.c). The vendor hooks are called directly:
    /// no LMA preservation, no host_initiated, and svm_set_efer's result is ignored.
    public mutating func setSregs(_ s: KvmSregs) -> Errno {
        if vmDead { return .eio }
        guard kvmSregsRejection(s) == nil else { return .einval }     // Refusals.swift
        cr2 = s.cr2
        if cr3 != s.cr3 { makeRequest(.tlbFlushGuest) }
        // mmu_reset_needed: only a changed CR3, EFER, CR0 or CR4 resets the MMU context. Putting back
        // the values read (QEMU's put after a get) keeps a stale root: real 6.12.117 goes on with
        // vmcb01's CR3 after a forced leave and sync_sregs of the same registers.
        let mmuResetNeeded = cr3 != s.cr3 || efer != s.efer || cr0 != s.cr0 || cr4 != s.cr4
        cr3 = s.cr3; owners.cr3 = .host
        svmSetEfer(s.efer, owner: .host)
        svmSetCr0(s.cr0, owner: .host)
        svmSetCr4(s.cr4, owner: .host)
        if mmuResetNeeded { kvmMmuResetContext() }
        makeRequest(.event)
        return .ok
    }

    /// KVM_GET_MSRS
    public func getMsrs() -> KvmMsrs { KvmMsrs(hsavePa: nested.hsaveMsr) }

    /// KVM_SET_MSRS → kvm_set_msrs → do_set_msr (arch/x86/kvm/msrs.c) for one entry, host-initiated; a
    /// refused write is the short count QEMU treats as -EINVAL. The executor issues a program's entries
    /// one at a time and stops at the first failure, as do_set_msr's loop does.
    public mutating func setMsr(_ msr: UInt32, _ value: UInt64) -> Errno {
        if vmDead { return .eio }
        switch svmSetMsr(msr, value, hostInitiated: true, owner: .host) {
        case .ok: return .ok
        case .fault: return .einval
        }
    }

    /// KVM_GET_VCPU_EVENTS (kvm_vcpu_ioctl_x86_get_vcpu_events, arch/x86/kvm/x86.c). A soft exception
    /// (#BP, #OF) is not reported: the ABI has no instruction length for it.
    public func getVcpuEvents() -> KvmVcpuEvents {
        KvmVcpuEvents(smm: smm, smmInsideNmi: smmInsideNmi, smiPending: smiPending, latchedInit: initPending,
                      tripleFault: requests.contains(.tripleFault), interrupt: injectedIrq,
                      shadow: svmGetInterruptShadow(), exception: exception.flatMap { Vector.isSoft($0.vector) ? nil : $0 })
    }

    /// kvm_vcpu_ioctl_x86_get_vcpu_events (arch/x86/kvm/x86.c) as KVM runs it: process_nmi, then the
    /// read (getVcpuEvents). What the VMM and the migration check issue; getVcpuEvents alone is the
    /// model's own look at the state.
    public mutating func kvmVcpuIoctlX86GetVcpuEvents() -> KvmVcpuEvents {
        processNmi()
        return getVcpuEvents()
    }

    /// process_nmi (arch/x86/kvm/x86.c). The model's guests have no NMIs, so what is left is its
    /// KVM_REQ_EVENT, raised whether or not one is pending before 2cb9317377ca.
    mutating func processNmi() {
        if !has(.requestEventOnlyForPendingNmi) { makeRequest(.event) }
    }

    /// svm_get_interrupt_shadow (arch/x86/kvm/svm/svm.c): read from the current VMCB.
    func svmGetInterruptShadow() -> Bool { vmcb.control.intState & IntState.shadow != 0 }

    /// svm_set_interrupt_shadow (arch/x86/kvm/svm/svm.c): written to the current VMCB.
    mutating func svmSetInterruptShadow(_ on: Bool) {
        if on { vmcb.control.intState |= IntState.shadow } else { vmcb.control.intState &= ~IntState.shadow }
    }

    /// KVM_SET_VCPU_EVENTS (kvm_vcpu_ioctl_x86_set_vcpu_events, arch/x86/kvm/x86.c). nil fields are
    /// not marked valid and keep their values. `exception`: nil keeps the queue as it is (the block as
    /// read back); .some(nil) empties it; .some(e) queues e (a VMM with KVM_CAP_EXCEPTION_PAYLOAD keeps
    /// pending and injected apart).
    public mutating func setVcpuEvents(smm newSmm: Bool?, smmInsideNmi: Bool? = nil, smiPending newSmi: Bool? = nil,
                                       latchedInit: Bool? = nil, tripleFault: Bool? = nil,
                                       interrupt: Bool? = nil, shadow: Bool? = nil,
                                       exception newException: KvmException?? = nil) -> Errno {
        if vmDead { return .eio }
        if let e = newException, kvmVcpuEventsRejection(exception: e) != nil { return .einval }   // Refusals.swift
        if let e = newException {
            // The exception block is always taken; whatever #VMEXIT a pending exception had become is
            // forgotten (exception_vmexit), and the next KVM_RUN routes a pending one again.
            exception = e
        }
        if let s = newSmm {
            // f7e570780efc: toggling SMM from userspace forces the vCPU out of L2 first.
            if s != smm {
                // [B11] without f7e570780efc ("KVM: x86: Forcibly leave nested virt when SMM state
                // is toggled"): the vCPU stayed in guest mode.
                if has(.leaveNestedOnSmmToggle) { kvmLeaveNested() }
                kvmSmmChanged(s)
            }
            if let n = smmInsideNmi { self.smmInsideNmi = n }
            if let p = newSmi { smiPending = p }
            if let l = latchedInit { initPending = l }
        }
        if let tf = tripleFault {
            if tf { makeRequest(.tripleFault) } else { clearRequest(.tripleFault) }
        }
        if let i = interrupt {
            injectedIrq = i
        }
        if let sh = shadow { svmSetInterruptShadow(sh) }
        // Every successful KVM_SET_VCPU_EVENTS ends with KVM_REQ_EVENT, so the next entry looks at the
        // events again: an INIT latched while nothing blocks it is taken there (real 6.1.192 and
        // 6.12.117 reset the vCPU at the next entry after latched_init=1 outside SMM with GIF=1).
        makeRequest(.event)
        return .ok
    }

    /// KVM_SET_VCPU_EVENTS with every field valid, as a VMM restoring a vCPU issues it.
    public mutating func setVcpuEvents(_ e: KvmVcpuEvents) -> Errno {
        setVcpuEvents(smm: e.smm, smmInsideNmi: e.smmInsideNmi, smiPending: e.smiPending,
                      latchedInit: e.latchedInit, tripleFault: e.tripleFault, interrupt: e.interrupt,
                      shadow: e.shadow, exception: .some(e.exception))
    }

    /// A platform SMI (KVM_SMI or an APIC SMI): latched until KVM can deliver it.
    public mutating func raiseSmi() {
        smiPending = true
        makeRequest(.event)
    }

    /// A platform INIT (KVM_APIC_INIT): latched until KVM can deliver it.
    public mutating func raiseInit() {
        initPending = true
        makeRequest(.event)
    }

    /// Writes guest memory, as the VMM or L1 writing a page would.
    public mutating func writeGuestVmcb(_ gpa: UInt64, _ vmcb: Vmcb) -> Bool { memory.writeVmcb(gpa, vmcb) }
    public mutating func writeGuestMsrpm(_ gpa: UInt64, _ image: MsrpmImage) -> Bool { memory.writeMsrpm(gpa, image) }
    public mutating func writeSmram(_ smram: Smram) { memory.smram = smram }
    public func readGuestVmcb(_ gpa: UInt64) -> Vmcb? { memory.readVmcb(gpa) }
    /// Arms a write of `image` to vmcb12 by another vCPU, racing with the next VMRUN's emulation.
    public mutating func raceNextVmrun(vmcb12 image: Vmcb) { concurrentVmcb12Write = image }

    /// Copies another vCPU's guest memory (migration copies RAM along with the vCPU state).
    public mutating func adoptMemory(of other: Vcpu) { memory = other.memory }
}
