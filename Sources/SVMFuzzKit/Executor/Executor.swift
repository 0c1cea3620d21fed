// Runs operations on the vCPU model the way a VMM would, and checks the invariants after each.
// A value type with fixed-size storage: executing an operation allocates nothing unless an
// invariant fails (building its message).

import SVMModel

public struct Executor: Sendable {
    public private(set) var vcpu: Vcpu
    /// A freshly created vCPU of the same configuration: the migration target of unrestorable-state.
    let pristine: Vcpu

    /// Inside a KVM_RUN (the guest is running).
    public private(set) var inRun = false
    /// After an exit QEMU stops the guest on (shutdown, internal error, ...), guest instructions and
    /// KVM_RUN are skipped until `reset`, a successful `restore`, or both `set_regs` and `set_sregs`.
    public private(set) var halted = false
    /// A `signal` waits for KVM's next attempt to enter the guest.
    private var signalPending = false
    private var stuffedRegs = false
    private var stuffedSregs = false

    /// The last exit to userspace (none before the first).
    public private(set) var lastExit: ExitReason = .none
    /// The result of the last ioctl (KVM_RUN included).
    public private(set) var lastIoctl: Errno = .ok
    /// Operations executed so far.
    public private(set) var step = 0
    /// The first violation seen.
    public private(set) var firstViolation: Violation?
    /// Whether the last operation was skipped (after a shutdown or with the VM dead).
    public private(set) var lastSkipped = false
    /// Whether the last guest instruction ran, and at which level.
    public private(set) var lastRanAt: Mode?

    /// Whether the vCPU's state is guest-reachable: reached from the initial state by guest
    /// instructions, platform events, resets and restores of guest-reachable snapshots. Stuffing
    /// arbitrary values with SET ioctls makes it not; unrestorable-state is checked only on
    /// guest-reachable states (live migration promises to carry what the guest can create).
    public private(set) var guestReachable = true

    /// The VMM discarded a triple fault KVM had raised (KVM_SET_VCPU_EVENTS, or a restore that puts
    /// VCPU_EVENTS without it): it chose to run a state KVM declared shut down, so l1-runs-l2-state is
    /// not judged until a reset or a restore that puts all registers again.
    private var discardedTripleFault = false

    private var snapshots: InlineArray<4, VcpuSnapshot>
    private var snapshotValid: UInt8 = 0
    private var snapshotReachable: UInt8 = 0
    private var reportedWarnings = WarnSet()
    private var line = 0

    public init(config: VcpuConfig) {
        vcpu = Vcpu.makeL1(config: config)
        pristine = vcpu
        snapshots = .init(repeating: VcpuSnapshot(of: vcpu))
    }

    public var config: VcpuConfig { vcpu.config }

    /// Executes one operation, then checks the invariants. Returns the violation it caused, if any
    /// (every violation, not only the first, for tools that continue).
    @discardableResult
    public mutating func execute(_ op: Operation, line: Int = 0) -> Violation? {
        step += 1
        self.line = line
        lastSkipped = false
        lastRanAt = nil
        let smmMismatchBefore = vcpu.smmL1Mismatch != nil
        var found = perform(op)
        // The root cause wins over what it leads to later in the same operation (e.g. a state that
        // then cannot be migrated at the exit to userspace).
        if !smmMismatchBefore, let r = vcpu.smmL1Mismatch {
            found = violation(.smmL1State, SmmL1State.describe(r))
        }
        if found == nil { found = checkStructure() }
        if let v = found, firstViolation == nil { firstViolation = v }
        return found
    }

    // MARK: - Operations

    private mutating func perform(_ op: Operation) -> Violation? {
        switch op {
        case .guest(let insn):
            return guestInstruction(insn)
        case .vmcb(let gpa, let image):
            _ = vcpu.writeGuestVmcb(gpa, image)
            return nil
        case .msrpm(let gpa, let image):
            _ = vcpu.writeGuestMsrpm(gpa, image)
            return nil
        case .racingVmcb(let image):
            vcpu.raceNextVmrun(vmcb12: image)
            return nil
        case .smram(let p):
            var s = vcpu.memory.smram
            p.apply(to: &s)
            vcpu.writeSmram(s)
            return nil
        case .smi:
            vcpu.raiseSmi()
            return kick()
        case .initSignal:
            vcpu.raiseInit()
            return kick()
        case .signal:
            signalPending = true
            return nil
        case .run:
            return kvmRun()
        case .expect:
            return nil
        case .setSregs, .setRegs, .setMsrs, .setNestedState, .setVcpuEvents, .snapshot, .restore, .reset:
            // Userspace needs the vCPU out of KVM_RUN first; the ioctl is issued even when leaving
            // the run already showed a violation.
            let atExit = leaveRun()
            switch op {
            case .setSregs, .setRegs, .setMsrs, .setNestedState, .setVcpuEvents: guestReachable = false
            default: break
            }
            let tfBefore = vcpu.requests.contains(.tripleFault)
            var fromIoctl = ioctl(op)
            if putAllRegisters(op) {
                discardedTripleFault = false
            } else if tfBefore && !vcpu.requests.contains(.tripleFault) {
                discardedTripleFault = true
            }
            if fromIoctl == nil, !tfBefore, vcpu.requests.contains(.tripleFault), let name = op.stuffingIoctlName {
                fromIoctl = violation(.spuriousTripleFault, "\(name) raised a triple fault")
            }
            return atExit ?? fromIoctl
        }
    }

    private mutating func ioctl(_ op: Operation) -> Violation? {
        switch op {
        case .setSregs(let p):
            let cur = vcpu.getSregs()
            lastIoctl = vcpu.setSregs(KvmSregs(efer: p.efer ?? cur.efer, cr0: p.cr0 ?? cur.cr0, cr2: p.cr2 ?? cur.cr2,
                                               cr3: p.cr3 ?? cur.cr3, cr4: p.cr4 ?? cur.cr4))
            if lastIoctl == .ok { stuffedSregs = true; resumeIfStuffed() }
            if lastIoctl == .ok, let d = IoctlAcceptance.checkSetSregs(efer: p.efer ?? cur.efer, vcpu.config) {
                return violation(.ioctlAcceptsInvalid, d)
            }
        case .setRegs(let p):
            let cur = vcpu.getRegs()
            lastIoctl = vcpu.setRegs(KvmRegs(rip: p.rip ?? cur.rip, rsp: p.rsp ?? cur.rsp, rax: p.rax ?? cur.rax,
                                             rflags: p.rflags ?? cur.rflags))
            if lastIoctl == .ok { stuffedRegs = true; resumeIfStuffed() }
        case .setMsrs(let p):
            lastIoctl = .ok
            if let e = p.efer, lastIoctl == .ok { lastIoctl = vcpu.setMsr(MSR.efer, e) }
            if let h = p.hsavePa, lastIoctl == .ok { lastIoctl = vcpu.setMsr(MSR.vmHsavePa, h) }
            if let c = p.vmCr, lastIoctl == .ok { lastIoctl = vcpu.setMsr(MSR.vmCr, c) }
        case .setNestedState(let slot, let flags, let vmcbPa):
            var blob = snapshot(slot)?.nested ?? KvmNestedState(flags: 0)
            if let f = flags { blob.flags = f }
            if let pa = vmcbPa { blob.vmcbPa = pa }
            lastIoctl = vcpu.setNestedState(blob)
        case .setVcpuEvents(let p):
            lastIoctl = vcpu.setVcpuEvents(smm: p.smm, smiPending: p.smiPending, latchedInit: p.latchedInit,
                                           tripleFault: p.tripleFault, interrupt: p.interrupt)
        case .snapshot(let slot):
            lastIoctl = vcpu.vmDead ? .eio : .ok
            if !vcpu.vmDead {
                snapshots[Int(slot.rawValue)] = VcpuSnapshot(of: vcpu)
                snapshotValid |= 1 << slot.rawValue
                if guestReachable {
                    snapshotReachable |= 1 << slot.rawValue
                } else {
                    snapshotReachable &= ~(1 << slot.rawValue)
                }
            }
        case .restore(let slot, let order):
            guard let snap = snapshot(slot) else {
                lastIoctl = .einval
                guestReachable = false
                return nil
            }
            let v = restore(snap, order: order)
            guestReachable = lastIoctl == .ok && order.isMigrationOrder && snapshotReachable & (1 << slot.rawValue) != 0
            return v
        case .reset:
            return systemReset()
        default:
            break
        }
        return nil
    }

    /// Whether `op` just put every register again (a reset, or a restore with REGS and SREGS that succeeded).
    private func putAllRegisters(_ op: Operation) -> Bool {
        switch op {
        case .reset: return lastIoctl == .ok
        case .restore(_, let order): return lastIoctl == .ok && order.contains(.regs) && order.contains(.sregs)
        default: return false
        }
    }

    private func snapshot(_ slot: Slot) -> VcpuSnapshot? {
        snapshotValid & (1 << slot.rawValue) != 0 ? snapshots[Int(slot.rawValue)] : nil
    }

    private mutating func resumeIfStuffed() {
        if halted && stuffedRegs && stuffedSregs { halted = false }
    }

    // MARK: - Restore and reset

    /// `restore`: the snapshot's SET ioctls in the given order.
    private mutating func restore(_ snap: VcpuSnapshot, order: RestoreOrder) -> Violation? {
        // A triple fault already pending survives a restore that does not put VCPU_EVENTS.
        let inherited = vcpu.requests.contains(.tripleFault) && !order.contains(.events)
        let r = vcpu.put(snap, order: order)
        if let raiser = r.raisedTripleFault {
            return violation(.spuriousTripleFault,
                             "KVM_SET_\(raiser.ioctlName) raised a triple fault during restore (order=\(order))")
        }
        if let f = r.failure {
            lastIoctl = f.errno
            return nil                             // a refused restore is reported, not a violation
        }
        lastIoctl = .ok
        // Like set_regs + set_sregs after a shutdown, a restore that puts both resumes the guest.
        if order.contains(.regs) && order.contains(.sregs) { halted = false }
        if vcpu.requests.contains(.tripleFault) && !snap.events.tripleFault && !inherited {
            return violation(.spuriousTripleFault,
                             "restore (order=\(order)) left a triple fault pending that the snapshot did not have")
        }
        // KVM_SET_REGS drops a pending exception (__set_regs), so one put before it is not restored.
        var expected = snap
        if let e = order.position(of: .events), let r = order.position(of: .regs), e < r { expected.events.exception = nil }
        if order.isMigrationOrder, let diff = expected.firstDifference(VcpuSnapshot(of: vcpu)) {
            return violation(.restoreMismatch, "after restore (order=\(order)): \(diff)")
        }
        return nil
    }

    /// The reset state QEMU puts on a system reset (x86_cpu_reset_hold, then kvm_arch_put_registers
    /// with KVM_PUT_RESET_STATE): real mode at the reset vector, GIF set, no nested state.
    public static let qemuResetState: VcpuSnapshot = {
        var s = VcpuSnapshot(of: Vcpu(config: VcpuConfig()))
        s.sregs = KvmSregs(efer: 0, cr0: CR0.et | CR0.cd | CR0.nw, cr2: 0, cr3: 0, cr4: 0)
        s.regs = KvmRegs(rip: 0xfff0, rsp: 0, rax: 0, rflags: RFLAGS.fixed)
        s.msrs = KvmMsrs(hsavePa: 0)
        s.events = KvmVcpuEvents(smm: false)
        s.nested = KvmNestedState(flags: NestedFlag.gifSet)
        s.mode = .l1
        s.gif = true
        s.nestedMigrated = true
        return s
    }()

    private mutating func systemReset() -> Violation? {
        let r = vcpu.put(Executor.qemuResetState, order: .qemu)
        if let raiser = r.raisedTripleFault {
            return violation(.spuriousTripleFault, "KVM_SET_\(raiser.ioctlName) raised a triple fault during system reset")
        }
        if let f = r.failure {
            lastIoctl = f.errno
            guestReachable = false
            return nil
        }
        lastIoctl = .ok
        halted = false
        // The reset state is guest-reachable (a guest can reboot), if the reset put all of it:
        // without nested state QEMU leaves GIF as the VMM last stuffed it.
        if VcpuSnapshot.migratesNestedState(vcpu.config) { guestReachable = true }
        if vcpu.requests.contains(.tripleFault) {
            return violation(.spuriousTripleFault, "system reset left a triple fault pending")
        }
        return nil
    }

    // MARK: - KVM_RUN

    /// A guest instruction runs inside KVM_RUN at whichever level is running.
    private mutating func guestInstruction(_ insn: GuestInstruction) -> Violation? {
        guard let started = startRun() else { return nil }
        if started {
            if let v = enterGuest() { return v }
            // The entry itself exited to userspace: the instruction never ran.
            if !inRun { return nil }
        }
        lastRanAt = vcpu.mode
        let before = (mode: vcpu.mode, gif: vcpu.gif, hsave: vcpu.nested.hsaveMsr, intercepts: vcpu.nested.ctl.intercepts)
        var vmcb12: Vmcb? = nil
        if case .vmrun(let gpa) = insn, before.mode == .l1 { vmcb12 = vcpu.readGuestVmcb(gpa) }
        let handling = vcpu.runGuestInstruction(insn)
        var broken = checkInstruction(insn, before: before)
        if broken == nil, case .vmrun = insn, before.mode == .l1, handling == .resume, !vcpu.vmDead,
           let d = VmrunOutcome.check(vmcb12: vmcb12, after: vcpu) {
            broken = violation(.vmrunOutcome, d)
        }
        let next: Violation?
        switch handling {
        case .resume:
            next = enterGuest()
        case .exitToUserspace(let reason):
            next = endRun(reason)
        case .error(let errno):
            lastIoctl = errno
            next = endRun(.none)
        }
        return broken ?? next
    }

    /// The invariants about one guest instruction's handling (Invariants/: GifRules, HsaveRules,
    /// InterceptReflection), checked before KVM re-enters the guest.
    private func checkInstruction(_ insn: GuestInstruction,
                                  before: (mode: Mode, gif: Bool, hsave: UInt64, intercepts: InterceptSet)) -> Violation? {
        let mode = before.mode
        if let d = GifRules.check(insn, mode: mode, gifBefore: before.gif, gifAfter: vcpu.gif) {
            return violation(.gifChanged, d)
        }
        if let d = HsaveRules.check(insn, mode: mode, hsaveBefore: before.hsave, after: vcpu) {
            return violation(.hsavePaRules, d)
        }
        if let d = InterceptReflection.check(insn, mode: mode, intercepts: before.intercepts, after: vcpu) {
            return violation(.interceptNotReflected, d)
        }
        return nil
    }

    /// `run`: a KVM_RUN that enters and is interrupted before any guest instruction.
    private mutating func kvmRun() -> Violation? {
        guard startRun() != nil else { return nil }
        if let v = enterGuest() { return v }
        return leaveRun()
    }

    /// Issues KVM_RUN unless the VMM would not run the guest now (halted, VM dead): nil when skipped,
    /// true when a new KVM_RUN started, false when one was already running.
    private mutating func startRun() -> Bool? {
        if halted || vcpu.vmDead {
            lastSkipped = true
            return nil
        }
        lastIoctl = .ok
        if inRun { return false }
        vcpu.kvmRunBegin()
        inRun = true
        return true
    }

    /// An SMI or INIT kicks a running vCPU out of the guest; KVM services it before re-entering.
    private mutating func kick() -> Violation? {
        guard inRun else { return nil }
        return enterGuest()
    }

    /// vcpu_enter_guest, and the l1-runs-l2-state check at every entry outside guest mode.
    private mutating func enterGuest() -> Violation? {
        // vcpu_run sees the pending signal before vcpu_enter_guest: KVM_EXIT_INTR, nothing entered.
        if signalPending {
            signalPending = false
            return endRun(.intr)
        }
        switch vcpu.vcpuEnterGuest() {
        case .entered(let mode):
            if mode != .l2, !discardedTripleFault, let reg = vcpu.owners.firstL2Owned(current: vcpu.current) {
                return violation(.l1RunsL2State,
                                 "KVM entered \(mode == .smm ? "SMM" : "L1") while \(reg) (and maybe more) holds L2's value")
            }
            return nil
        case .exit(let reason):
            return endRun(reason)
        }
    }

    /// Interrupts a running vCPU so userspace can issue an ioctl.
    private mutating func leaveRun() -> Violation? {
        guard inRun else { return nil }
        return endRun(.intr)
    }

    /// KVM_RUN returns to userspace: check that the state could be migrated right now.
    private mutating func endRun(_ reason: ExitReason) -> Violation? {
        vcpu.kvmRunEnd(reason)
        inRun = false
        lastExit = reason
        if reason != .intr {
            halted = true
            stuffedRegs = false
            stuffedSregs = false
        }
        return checkRestorable()
    }

    /// unrestorable-state: GET everything, then PUT it in QEMU's order into a fresh vCPU that has the
    /// same guest memory (live migration copies RAM).
    private func checkRestorable() -> Violation? {
        if vcpu.vmDead || !guestReachable { return nil }
        let snap = VcpuSnapshot(of: vcpu)
        var target = pristine
        target.adoptMemory(of: vcpu)
        if let (failedStep, errno) = target.put(snap, order: .qemu).failure {
            var rule = ""
            if failedStep == .sregs, let r = target.kvmSregsRejection(snap.sregs) { rule = ":\(r)" }
            if failedStep == .nested, let r = target.kvmNestedStateRejection(snap.nested) { rule = ":\(r)" }
            var v = violation(.unrestorableState,
                              "migrating this state fails: KVM_SET_\(failedStep.ioctlName) returns \(errno)\(rule.isEmpty ? "" : " (rule \(rule.dropFirst()))") (mode \(snap.mode), EFER 0x\(String(snap.sregs.efer, radix: 16)), CR0 0x\(String(snap.sregs.cr0, radix: 16)), nested flags 0x\(String(snap.nested.flags, radix: 16)))")
            v.reason = "KVM_SET_\(failedStep.ioctlName)\(rule)"
            return v
        }
        if let diff = snap.firstDifference(VcpuSnapshot(of: target)) {
            return violation(.unrestorableState, "migrating this state changes it: \(diff)")
        }
        // The next entry exists only if the VMM resumes the guest (QEMU stops it after a shutdown or
        // an internal error until a reset or a restore).
        if !halted, let d = NextEntry.firstDifference(original: vcpu, migrated: target) {
            var v = violation(.unrestorableState, "the migrated vCPU's next entry differs: \(d.detail)")
            v.reason = "next-entry:\(d.field)"
            return v
        }
        return nil
    }

    // MARK: - Structural checks

    private mutating func checkStructure() -> Violation? {
        if vcpu.warnings != reportedWarnings {
            let new = vcpu.warnings.sites.first { !reportedWarnings.contains($0) }
            reportedWarnings = vcpu.warnings
            if let site = new { return violation(.kvmWarn(site), "WARN_ON in \(site.name)") }
        }
        if let rule = ConsistencyRule.firstBroken(vcpu) {
            return violation(.inconsistentState(rule), rule.explanation)
        }
        if let d = Vmcb12Checked.check(vcpu) { return violation(.vmcb12Unchecked, d) }
        return nil
    }

    private func violation(_ id: InvariantID, _ detail: String) -> Violation {
        Violation(id: id, step: step, line: line, detail: detail)
    }
}

extension Operation {
    /// The ioctl a state-stuffing operation issues (not SET_VCPU_EVENTS, which may set a triple fault).
    var stuffingIoctlName: String? {
        switch self {
        case .setSregs: return "KVM_SET_SREGS"
        case .setRegs: return "KVM_SET_REGS"
        case .setMsrs: return "KVM_SET_MSRS"
        case .setNestedState: return "KVM_SET_NESTED_STATE"
        default: return nil
        }
    }
}

extension RestoreStep {
    public var ioctlName: String {
        switch self {
        case .sregs: return "SREGS"
        case .nested: return "NESTED_STATE"
        case .regs: return "REGS"
        case .msrs: return "MSRS"
        case .events: return "VCPU_EVENTS"
        }
    }
}

extension SmramPatch {
    func apply(to s: inout Smram) {
        if let v = efer { s.efer = v }
        if let v = cr0 { s.cr0 = v }
        if let v = cr3 { s.cr3 = v }
        if let v = cr4 { s.cr4 = v }
        if let v = rip { s.rip = v }
        if let v = rsp { s.rsp = v }
        if let v = rax { s.rax = v }
        if let v = rflags { s.rflags = v }
        if let v = svmGuest { s.svmGuestFlag = v }
        if let v = vmcb { s.svmGuestVmcbGpa = v }
    }
}
