// What userspace hands KVM inside KVM_RUN itself, before any guest code runs (issue 14 §1):
// kvm_run->immediate_exit (KVM_RUN returns -EINTR without entering the guest, and
// vcpu->wants_to_run is false for the whole ioctl) and kvm_run->kvm_dirty_regs (sync_regs stuffs
// REGS, SREGS and EVENTS from kvm_run->s.regs through the same paths as the SET ioctls, but with
// wants_to_run set unless immediate_exit is). Both are the same in 6.1, 6.12 and kvm-x86.

/// The valid parts of a struct kvm_vcpu_events userspace puts (nil: its KVM_VCPUEVENT_VALID_* flag
/// is clear; `interrupt` has no flag, nil there means "as read back").
public struct KvmVcpuEventsUpdate: Hashable, Sendable {
    public var smm: Bool?, smiPending: Bool?, latchedInit: Bool?, tripleFault: Bool?, interrupt: Bool?
    /// The exception block, as Vcpu.setVcpuEvents takes it (nil: as read back).
    public var exception: KvmException??
    public init(smm: Bool? = nil, smiPending: Bool? = nil, latchedInit: Bool? = nil, tripleFault: Bool? = nil,
                interrupt: Bool? = nil, exception: KvmException?? = nil) {
        self.smm = smm; self.smiPending = smiPending; self.latchedInit = latchedInit
        self.tripleFault = tripleFault; self.interrupt = interrupt; self.exception = exception
    }
}

/// The blocks of kvm_run->s.regs userspace marked in kvm_dirty_regs (nil: not dirty).
public struct KvmSyncRegs: Hashable, Sendable {
    /// KVM_SYNC_X86_REGS
    public var regs: KvmRegs?
    /// KVM_SYNC_X86_SREGS
    public var sregs: KvmSregs?
    /// KVM_SYNC_X86_EVENTS
    public var events: KvmVcpuEventsUpdate?
    public init(regs: KvmRegs? = nil, sregs: KvmSregs? = nil, events: KvmVcpuEventsUpdate? = nil) {
        self.regs = regs; self.sregs = sregs; self.events = events
    }
    public var isEmpty: Bool { regs == nil && sregs == nil && events == nil }
}

/// What one block of sync_regs did.
public struct SyncRegsPart: Hashable, Sendable {
    public var result: Errno
    /// The rule kvm_is_valid_sregs refused the SREGS block by.
    public var refusal: SregsRefusal?
    /// It left a triple fault pending that was not pending before it (and was not asked for).
    public var raisedTripleFault: Bool
}

/// What sync_regs did, block by block in its order; a block after a refused one was not applied.
public struct SyncRegsResult: Hashable, Sendable {
    public var regs: SyncRegsPart?, sregs: SyncRegsPart?, events: SyncRegsPart?
    /// KVM_RUN's result so far: -EINVAL when a block was refused (KVM_RUN returns it, nothing runs).
    public var result: Errno { [regs, sregs, events].contains { $0?.result == .einval } ? .einval : .ok }
}

extension Vcpu {
    /// The KVM_RUN case of kvm_vcpu_ioctl (virt/kvm/kvm_main.c): wants_to_run is !immediate_exit for
    /// the whole of kvm_arch_vcpu_ioctl_run, sync_regs included.
    public mutating func kvmVcpuIoctlRunBegin(immediateExit: Bool) {
        wantsToRun = !immediateExit
    }

    /// kvm_x86_vcpu_pre_run (arch/x86/kvm/x86.c), reached only by a KVM_RUN that wants to run.
    public mutating func kvmX86VcpuPreRun() {
        // Userspace had control since VMRUN/RSM emulation: the pending run is no longer trusted.
        if nestedRunPending == 1 { nestedRunPending = 2 }
        pendingL2Entry?.userspaceHadControl = true
    }

    /// kvm_arch_vcpu_ioctl_run returned before vcpu_run (arch/x86/kvm/x86.c): -EINTR for immediate_exit,
    /// -EINVAL for a refused sync_regs block. No guest ran, so no exit handler read anything back.
    /// store_regs then copies the GET ioctls' view into kvm_run->s.regs, which changes nothing here
    /// (the model's KVM_GET_* have no side effects), and pending requests stay for the next KVM_RUN.
    public mutating func kvmRunReturnEarly() {
        wantsToRun = false
    }

    /// sync_regs (arch/x86/kvm/x86.c): REGS through __set_regs, SREGS through __set_sregs, EVENTS through
    /// kvm_vcpu_ioctl_x86_set_vcpu_events, in that order, stopping at the first refused block. A block's
    /// checks are the SET ioctl's; only wants_to_run differs (set, unless immediate_exit), which is what
    /// svm_set_efer's merged EFER.SVME rule looks at.
    public mutating func syncRegs(_ s: KvmSyncRegs) -> SyncRegsResult {
        var out = SyncRegsResult()
        if let r = s.regs {
            out.regs = syncRegsPart(asked: false) { $0.setRegs(r) }
        }
        if let sr = s.sregs {
            let why = kvmSregsRejection(sr)
            var part = syncRegsPart(asked: false) { $0.setSregs(sr) }
            part.refusal = part.result == .einval ? why : nil
            out.sregs = part
            if part.result != .ok { return out }
        }
        if let e = s.events {
            out.events = syncRegsPart(asked: e.tripleFault == true) {
                $0.setVcpuEvents(smm: e.smm, smiPending: e.smiPending, latchedInit: e.latchedInit,
                                 tripleFault: e.tripleFault, interrupt: e.interrupt, exception: e.exception)
            }
        }
        return out
    }

    /// One block of sync_regs. Userspace is stuffing state even though wants_to_run is set: a forced
    /// leave from guest mode it caused hands L2's leftovers to userspace, as the SET ioctls do
    /// (svmLeaveNested keys that on wants_to_run, which here says nothing about who asked).
    private mutating func syncRegsPart(asked: Bool, _ apply: (inout Vcpu) -> Errno) -> SyncRegsPart {
        let tripleFaultBefore = requests.contains(.tripleFault)
        let wasGuestMode = guestMode
        let r = apply(&self)
        if wasGuestMode && !guestMode { owners.handL2LeftoversToHost() }
        let raised = !tripleFaultBefore && !asked && requests.contains(.tripleFault)
        return SyncRegsPart(result: r, refusal: nil, raisedTripleFault: raised)
    }
}
