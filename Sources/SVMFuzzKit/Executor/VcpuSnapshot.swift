// What userspace can read out of a vCPU: KVM_GET_REGS/SREGS/MSRS/VCPU_EVENTS/NESTED_STATE,
// plus the mode and GIF the invariants compare.

import SVMModel

public struct VcpuSnapshot: Hashable, Sendable {
    public var regs: KvmRegs
    public var sregs: KvmSregs
    public var msrs: KvmMsrs
    public var events: KvmVcpuEvents
    public var nested: KvmNestedState
    public var mode: Mode
    public var gif: Bool
    /// Whether the VMM saves nested state (and with it GIF) for this vCPU.
    public var nestedMigrated: Bool

    /// The GET ioctls QEMU's kvm_arch_get_registers issues.
    public init(of v: Vcpu) {
        regs = v.getRegs()
        sregs = v.getSregs()
        msrs = v.getMsrs()
        events = v.getVcpuEvents()
        nestedMigrated = VcpuSnapshot.migratesNestedState(v.config)
        // Unmigrated, the blob is still what KVM_GET_NESTED_STATE returns outside guest mode (GIF_SET
        // as GIF is), for a `set_nested_state` of the slot: real 6.12.117 takes it back.
        nested = nestedMigrated ? v.getNestedState() : KvmNestedState(flags: v.gif ? NestedFlag.gifSet : 0)
        mode = v.mode
        gif = v.gif
    }

    var ignoringGif: VcpuSnapshot {
        var s = self
        s.gif = true
        if !s.nestedMigrated { s.nested.flags = NestedFlag.gifSet }
        return s
    }

    /// QEMU keeps nested state only for a guest with SVM in CPUID on a host with nested SVM
    /// (kvm_arch_init_vcpu allocates env->nested_state only then); otherwise it never issues
    /// KVM_GET/SET_NESTED_STATE.
    public static func migratesNestedState(_ c: VcpuConfig) -> Bool { c.nested && c.guestSvm }

    /// The first field (in GET order) whose value differs, as `field: snapshot -> now`.
    public func firstDifference(_ now: VcpuSnapshot) -> String? {
        // The common case, without building any description.
        if self == now || (!nestedMigrated && self.ignoringGif == now.ignoringGif) { return nil }
        func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        let a = self, b = now
        let pairs: [(String, UInt64, UInt64)] = [
            ("regs.rip", a.regs.rip, b.regs.rip), ("regs.rsp", a.regs.rsp, b.regs.rsp),
            ("regs.rax", a.regs.rax, b.regs.rax), ("regs.rflags", a.regs.rflags, b.regs.rflags),
            ("sregs.efer", a.sregs.efer, b.sregs.efer), ("sregs.cr0", a.sregs.cr0, b.sregs.cr0),
            ("sregs.cr2", a.sregs.cr2, b.sregs.cr2), ("sregs.cr3", a.sregs.cr3, b.sregs.cr3),
            ("sregs.cr4", a.sregs.cr4, b.sregs.cr4), ("msrs.hsave_pa", a.msrs.hsavePa, b.msrs.hsavePa),
            // Unmigrated, the flags hold only GIF, which is judged below.
            ("nested.flags", UInt64(a.nested.flags), UInt64(a.nestedMigrated && b.nestedMigrated ? b.nested.flags : a.nested.flags)),
            ("nested.vmcb_pa", a.nested.vmcbPa, b.nested.vmcbPa),
        ]
        for (name, x, y) in pairs where x != y { return "\(name): \(hex(x)) -> \(hex(y))" }
        let flags: [(String, Bool, Bool)] = [
            ("events.smm", a.events.smm, b.events.smm),
            ("events.smm_inside_nmi", a.events.smmInsideNmi, b.events.smmInsideNmi),
            ("events.smi_pending", a.events.smiPending, b.events.smiPending),
            ("events.latched_init", a.events.latchedInit, b.events.latchedInit),
            ("events.triple_fault", a.events.tripleFault, b.events.tripleFault),
            ("events.interrupt", a.events.interrupt, b.events.interrupt),
            ("events.shadow", a.events.shadow, b.events.shadow),
            // GIF is saved only inside the nested state.
            ("gif", a.gif, a.nestedMigrated && b.nestedMigrated ? b.gif : a.gif),
        ]
        for (name, x, y) in flags where x != y { return "\(name): \(x ? 1 : 0) -> \(y ? 1 : 0)" }
        if a.events.exception != b.events.exception {
            func text(_ e: KvmException?) -> String {
                guard let e else { return "none" }
                return "\(e.vector) \(e.injected ? "injected" : "pending")" + (e.errorCode.map { " error_code 0x\(String($0, radix: 16))" } ?? "")
            }
            return "events.exception: \(text(a.events.exception)) -> \(text(b.events.exception))"
        }
        if a.nested.control != b.nested.control { return "nested.control differs" }
        if a.nested.save != b.nested.save { return "nested.save (L1 state) differs" }
        if a.mode != b.mode { return "mode: \(a.mode) -> \(b.mode)" }
        return nil
    }
}

/// What a series of KVM_SET_* ioctls did.
public struct PutResult: Sendable {
    /// Each ioctl issued, in order, up to and including the first that failed (the rest were not issued).
    public var calls = IoctlCalls()
    /// The first ioctl that failed, with its errno and the rule that refused it.
    public var failure: IoctlCall? { calls.firstFailure }
    /// The first ioctl that left a triple fault pending that was not pending before it. Only
    /// KVM_SET_VCPU_EVENTS may do that, and only when asked to.
    public var raisedTripleFault: IoctlCall? { calls.firstRaiser }
}

extension Vcpu {
    /// KVM_SET_* in the given order, stopping at the first failing ioctl like kvm_arch_put_registers.
    public mutating func put(_ s: VcpuSnapshot, order: RestoreOrder) -> PutResult {
        var result = PutResult()
        for i in 0..<order.count {
            let step = order.step(i)
            let tfBefore = requests.contains(.tripleFault)
            let r: Errno
            var refusal: Refusal? = nil
            switch step {
            // A refused ioctl changed nothing, so the rule is named after it on the same state (only
            // on failure: the hot path never pays for the diagnosis).
            case .sregs:
                r = setSregs(s.sregs)
                if r == .einval { refusal = kvmSregsRejection(s.sregs).map(Refusal.sregs) }
            case .nested:
                if !VcpuSnapshot.migratesNestedState(config) { continue }
                r = setNestedState(s.nested)
                if r == .einval { refusal = kvmNestedStateRejection(s.nested).map(Refusal.nestedState) }
            case .regs: r = setRegs(s.regs)
            case .msrs: r = setMsr(MSR.vmHsavePa, s.msrs.hsavePa)
            case .events: r = setVcpuEvents(s.events)
            }
            let asked = step == .events && s.events.tripleFault
            let raised = !tfBefore && !asked && requests.contains(.tripleFault)
            result.calls.append(IoctlCall(IoctlKind(step), r, refusal: refusal, raisedTripleFault: raised))
            if r != .ok { return result }
        }
        return result
    }
}

extension RestoreOrder {
    /// Orders whose result must equal the snapshot: complete, with SREGS before NESTED_STATE
    /// (EFER.SVME must be set first) and NESTED_STATE before REGS (RFLAGS lands in the VMCB the
    /// nested state selects), the constraints QEMU's kvm_arch_put_registers relies on.
    public var isMigrationOrder: Bool {
        guard count == 5, let sregs = position(of: .sregs), let nested = position(of: .nested),
              let regs = position(of: .regs) else { return false }
        return sregs < nested && nested < regs
    }
}
