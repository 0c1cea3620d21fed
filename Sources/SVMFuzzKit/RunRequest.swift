// `run immediate_exit sync_regs ... sync_sregs ... sync_events ...`: what userspace puts into kvm_run
// before a KVM_RUN (issue 14 §1). The sync blocks are the set_regs/set_sregs/set_vcpu_events patches
// (their fields, tables and text are those operations'), applied by KVM's sync_regs inside KVM_RUN.

import SVMModel

public struct RunRequest: Hashable, Sendable {
    /// kvm_run->immediate_exit: KVM_RUN returns -EINTR before entering the guest (wants_to_run false).
    public var immediateExit: Bool
    /// KVM_SYNC_X86_REGS in kvm_dirty_regs, with the fields of s.regs.regs that differ from KVM_GET_REGS.
    public var regs: RegsPatch?
    /// KVM_SYNC_X86_SREGS, the same for s.regs.sregs.
    public var sregs: SregsPatch?
    /// KVM_SYNC_X86_EVENTS: s.regs.events with the valid flags of the fields given.
    public var events: EventsPatch?

    public init(immediateExit: Bool = false, regs: RegsPatch? = nil, sregs: SregsPatch? = nil, events: EventsPatch? = nil) {
        self.immediateExit = immediateExit; self.regs = regs; self.sregs = sregs; self.events = events
    }

    /// A plain KVM_RUN: the `run` operation.
    public var isPlain: Bool { !immediateExit && !syncs }
    /// Whether kvm_dirty_regs is non-zero (userspace stuffs state).
    public var syncs: Bool { regs != nil || sregs != nil || events != nil }

    /// The operation: `run` when nothing is asked, else `run` with its doors.
    public var operation: Operation { isPlain ? .run : .runWith(self) }

    /// The sync blocks completed with the vCPU's current values, as a VMM that read them back
    /// (store_regs, or the GET ioctls) and changed the given fields would hand them to KVM.
    func kvmSyncRegs(_ v: Vcpu) -> KvmSyncRegs {
        var s = KvmSyncRegs()
        if let p = regs { s.regs = p.completed(v.getRegs()) }
        if let p = sregs { s.sregs = p.completed(v.getSregs()) }
        if let p = events {
            s.events = KvmVcpuEventsUpdate(smm: p.smmUpdate(v), smiPending: p.smiPending, latchedInit: p.latchedInit,
                                           tripleFault: p.tripleFault, interrupt: p.interrupt,
                                           exception: p.exceptionUpdate(v))
        }
        return s
    }
}

extension EventsPatch {
    /// The exception block for Vcpu.setVcpuEvents: nil (as read back) unless the patch changes it.
    func exceptionUpdate(_ v: Vcpu) -> KvmException?? {
        changesException ? .some(exceptionBlock(over: v.getVcpuEvents().exception)) : nil
    }

    /// The SMM block's smm field: KVM takes smi.pending and smi.latched_init only with
    /// KVM_VCPUEVENT_VALID_SMM, which carries smm too, so a VMM (the runner) that changes either
    /// hands back the smm it read; nil when the block is not sent.
    func smmUpdate(_ v: Vcpu) -> Bool? {
        smm ?? (smiPending != nil || latchedInit != nil ? v.getVcpuEvents().smm : nil)
    }
}

extension RegsPatch {
    /// The registers KVM_SET_REGS receives: the given fields over `cur`.
    func completed(_ cur: KvmRegs) -> KvmRegs {
        KvmRegs(rip: rip ?? cur.rip, rsp: rsp ?? cur.rsp, rax: rax ?? cur.rax, rflags: rflags ?? cur.rflags)
    }
}

extension SregsPatch {
    /// The register set KVM_SET_SREGS receives: the given fields over `cur`.
    public func completed(_ cur: KvmSregs) -> KvmSregs {
        KvmSregs(efer: efer ?? cur.efer, cr0: cr0 ?? cur.cr0, cr2: cr2 ?? cur.cr2, cr3: cr3 ?? cur.cr3, cr4: cr4 ?? cur.cr4)
    }
}
