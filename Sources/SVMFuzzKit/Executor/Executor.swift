// Runs operations on the vCPU model the way a VMM would. Each operation yields a StepRecord of what
// happened; the invariant registry (Invariants/Registry.swift) judges the record at the checkpoints
// where its facts exist. A value type with fixed-size storage: executing an operation allocates
// nothing unless an invariant fails (building its message).

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
    /// An invariant an entry violates ends the step there (the instruction does not run, the run is
    /// not left), which fuzzing and minimizing want; the real-KVM oracle turns it off, since KVM goes on.
    public var stopsStepAtViolation = true
    /// The VMM reads the vCPU's state after every operation (KVM_GET_REGS, SREGS, MSRS, VCPU_EVENTS,
    /// NESTED_STATE), as the real-KVM runner does to record its steps. On a kernel whose
    /// KVM_GET_VCPU_EVENTS raises KVM_REQ_EVENT (linux-6.1) those reads change the next entry; QEMU
    /// reads only when it needs the state, so fuzzing leaves this off.
    public var readsStateAtEveryStep = false
    /// The runner's reads raised KVM_REQ_EVENT since the last entry: the KVM_RUN that takes the next
    /// instruction (the runner leaves KVM_RUN at every doorbell) services it before the instruction.
    private var readsRaisedEvent = false
    /// The current KVM_RUN has entered the guest at least once (so its exit has state to read back).
    private var enteredInRun = false
    /// The exception the entry before this step's guest instruction delivered (one userspace queued).
    private var entryInjected: UInt8? = nil
    private var stuffedRegs = false
    private var stuffedSregs = false

    /// Operations executed so far.
    public private(set) var step = 0
    /// The first violation seen.
    public private(set) var firstViolation: Violation?
    /// The violation of the step just executed, with its message (its record holds only the code).
    public private(set) var stepViolation: Violation?
    /// The invariants that build their message from many values skip it (the violation's code and
    /// reason are the same): the fuzz harness runs quiet, so an input that ends at a known issue
    /// allocates nothing, and replays a violation it reports to get the message.
    public var quiet = false
    /// States unrestorable-state found migratable, kept across inputs (the fuzz harness sets one;
    /// nil: every return to userspace is migrated).
    var migrationMemo: MigrationMemo? = nil

    /// Whether the vCPU's state is guest-reachable: reached from the initial state by guest
    /// instructions, platform events, resets and restores of guest-reachable snapshots. Stuffing
    /// arbitrary values with SET ioctls makes it not; unrestorable-state is checked only on
    /// guest-reachable states (live migration promises to carry what the guest can create).
    public private(set) var guestReachable = true

    /// The VMM discarded a triple fault KVM had raised (KVM_SET_VCPU_EVENTS, or a restore that puts
    /// VCPU_EVENTS without it): it chose to run a state KVM declared shut down, so l1-runs-l2-state is
    /// not judged until a reset or a restore that puts all registers again.
    private(set) var discardedTripleFault = false

    private var snapshots: InlineArray<4, VcpuSnapshot>
    private var snapshotValid: UInt8 = 0
    private var snapshotReachable: UInt8 = 0
    /// The WARN sites kvm-warn has judged (each is reported once).
    private(set) var reportedWarnings = WarnSet()

    /// The step in progress, as the invariants read it: the state at its start, the record so far,
    /// and the facts of the checkpoint being judged.
    private(set) var now: StepContext

    public init(config: VcpuConfig) {
        vcpu = Vcpu.makeL1(config: config)
        pristine = vcpu
        snapshots = .init(repeating: VcpuSnapshot(of: vcpu))
        now = Executor.initialContext(vcpu)
    }

    private static func initialContext(_ v: borrowing Vcpu) -> StepContext {
        StepContext(operation: .run, before: StateBefore(v), record: StepRecord(step: 0, line: 0),
                    instruction: InstructionFacts(insn: .stgi, before: StateBefore(v), vmcb12: nil, resumed: false))
    }

    /// Back to the state `init(config:)` gives, in place (the fuzz harness runs every input on one
    /// executor: a fresh one is 9 KB to copy, this is the vCPU's 3.5 KB). Every stored property but
    /// `pristine`, `quiet` and the snapshot images (unreadable once their valid bits are clear) is
    /// set here (and `migrationMemo`, a cache); ExecutorRestartTests checks that runs after a restart equal runs on a fresh executor.
    public mutating func restart() {
        vcpu = pristine
        inRun = false
        halted = false
        signalPending = false
        readsRaisedEvent = false
        enteredInRun = false
        stuffedRegs = false
        stuffedSregs = false
        step = 0
        firstViolation = nil
        stepViolation = nil
        guestReachable = true
        discardedTripleFault = false
        snapshotValid = 0
        snapshotReachable = 0
        reportedWarnings = WarnSet()
        now = Executor.initialContext(pristine)
    }

    public var config: VcpuConfig { vcpu.config }

    /// The vCPU's bytes, read in place (MigrationMemo compares them; a copy would cost more).
    mutating func withVcpuBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(of: &vcpu, body)
    }

    /// Executes one operation and judges it; returns what happened, the violation it caused included
    /// (every violation, not only the first, for tools that continue).
    @discardableResult
    public mutating func execute(_ op: Operation, line: Int = 0) -> StepRecord {
        step += 1
        now.record = StepRecord(step: step, line: line)
        now.before = StateBefore(vcpu)
        stepViolation = nil
        entryInjected = nil
        let warningsBefore = vcpu.warnings
        vcpu.beginStep()
        // The runner leaves KVM_RUN at the doorbell that ends every step: a signal sent now is pending
        // when the next KVM_RUN starts, not one that arrives while the guest runs.
        if readsStateAtEveryStep && inRun { enteredInRun = false }
        perform(op)
        if readsStateAtEveryStep && !vcpu.vmDead {
            let had = vcpu.requests.contains(.event)
            _ = vcpu.kvmVcpuIoctlX86GetVcpuEvents()
            if !had && vcpu.requests.contains(.event) { readsRaisedEvent = true }
        }
        let failedBefore = stepViolation != nil
        check(.step)
        // kvm-warn judged the warnings unless the step had already failed (they are judged later).
        if !failedBefore && stepViolation?.id != .smmL1State { reportedWarnings = vcpu.warnings }

        now.record.mode = vcpu.mode
        now.record.gif = vcpu.gif
        now.record.requests = vcpu.requests
        now.record.owners = vcpu.owners
        now.record.current = vcpu.current
        now.record.warnings = vcpu.warnings.subtracting(warningsBefore)
        now.record.vmexitCode = vcpu.lastVmexitCode
        // The instruction's own exception, else one the entry before it delivered (the guest's stub
        // sees that one first; real 6.12.117 reports a #DE userspace queued at the next WRMSR's step).
        now.record.injected = showsInjected(op) && now.record.skip == nil ? vcpu.lastInjected ?? entryInjected : nil
        now.record.violation = stepViolation?.code
        if firstViolation == nil { firstViolation = stepViolation }
        return now.record
    }

    /// Whether the step record reports the exception the guest saw: a guest instruction's, or the one a
    /// KVM_RUN delivered at its entry.
    private func showsInjected(_ op: Operation) -> Bool {
        switch op {
        case .guest, .emulate, .run, .runWith: return true
        default: return false
        }
    }

    /// Runs the registry at checkpoint `kind`; the step keeps its first violation (or a root cause
    /// found later).
    private mutating func check(_ kind: CheckpointKind) {
        if let v = InvariantRegistry.check(kind, &self, failed: stepViolation != nil) { stepViolation = v }
    }

    private mutating func skip(_ why: SkipReason) {
        now.record.ran = .skipped
        now.record.skip = why
    }

    // MARK: - Operations

    private mutating func perform(_ op: Operation) {
        switch op {
        case .guest(let insn):
            guestInstruction(insn)
        case .emulate(let insn):
            guestInstruction(insn, forcedEmulation: true)
        // A write the model's memory cannot hold (every page in use) is skipped, not silently lost; a
        // write to an address without RAM is dropped, as the hardware drops it.
        case .vmcb(let gpa, let image):
            if !vcpu.writeGuestVmcb(gpa, image) && GuestPhys.isMappable(gpa) { skip(.guestMemoryFull) }
        case .msrpm(let gpa, let image):
            if !vcpu.writeGuestMsrpm(gpa, image) && GuestPhys.isMappable(gpa) { skip(.guestMemoryFull) }
        case .racingVmcb(let image):
            vcpu.raceNextVmrun(vmcb12: image)
        case .smram(let p):
            var s = vcpu.memory.smram
            p.apply(to: &s)
            vcpu.writeSmram(s)
        case .smi:
            now.record.ran = .platform
            vcpu.raiseSmi()
            kick()
        case .initSignal:
            now.record.ran = .platform
            vcpu.raiseInit()
            kick()
        case .signal:
            now.record.ran = .platform
            signalPending = true
        case .run:
            kvmRun()
        case .runWith(let req):
            kvmRun(req)
        case .expect:
            now.record.ran = .expect
        case .destroy:
            leaveRun()
            destroyAndRecreate()
        case .setSregs, .setRegs, .setMsrs, .setNestedState, .setVcpuEvents, .snapshot, .restore, .reset:
            // Userspace needs the vCPU out of KVM_RUN first; the ioctl is issued even when leaving
            // the run already showed a violation.
            leaveRun()
            switch op {
            case .setSregs, .setRegs, .setMsrs, .setNestedState, .setVcpuEvents: guestReachable = false
            default: break
            }
            now.record.userspaceIoctl = true
            ioctl(op)
            var replacedVcpu = false
            if case .restore(let slot, _, true) = op { replacedVcpu = snapshot(slot) != nil }
            if Executor.putAllRegisters(op, result: now.record.ioctlResult, replacedVcpu: replacedVcpu) {
                discardedTripleFault = false
            } else if now.before.tripleFault && !vcpu.requests.contains(.tripleFault) {
                discardedTripleFault = true
            }
            now.operation = op                      // only the ioctl checks read it: copied only here
            check(.ioctl)
        }
    }

    /// Records one ioctl of this step. `asked`: the ioctl was told to make a triple fault pending.
    private mutating func issued(_ kind: IoctlKind, _ r: Errno, refusal: Refusal? = nil, asked: Bool = false) {
        let raised = !now.before.tripleFault && !asked && vcpu.requests.contains(.tripleFault)
        now.record.ioctls.append(IoctlCall(kind, r, refusal: r == .einval ? refusal : nil, raisedTripleFault: raised))
        now.record.ioctlResult = r
    }

    private mutating func ioctl(_ op: Operation) {
        switch op {
        case .setSregs(let p):
            let s = p.completed(vcpu.getSregs())
            let why = vcpu.kvmSregsRejection(s)
            let r = vcpu.setSregs(s)
            issued(.setSregs, r, refusal: why.map(Refusal.sregs))
            if r == .ok { stuffedSregs = true; resumeIfStuffed() }
        case .setRegs(let p):
            let r = vcpu.setRegs(p.completed(vcpu.getRegs()))
            issued(.setRegs, r)
            if r == .ok { stuffedRegs = true; resumeIfStuffed() }
        case .setMsrs(let p):
            var r = Errno.ok
            if let e = p.efer, r == .ok { r = vcpu.setMsr(MSR.efer, e) }
            if let h = p.hsavePa, r == .ok { r = vcpu.setMsr(MSR.vmHsavePa, h) }
            if let c = p.vmCr, r == .ok { r = vcpu.setMsr(MSR.vmCr, c) }
            issued(.setMsrs, r)
        case .setNestedState(let slot, let flags, let vmcbPa, let format, let size):
            var blob = snapshot(slot)?.nested ?? KvmNestedState(flags: 0)
            if let f = flags { blob.flags = f }
            if let pa = vmcbPa { blob.vmcbPa = pa }
            if let f = format { blob.format = f }
            if let s = size { blob.size = s }
            let why = vcpu.kvmNestedStateRejection(blob)
            issued(.setNestedState, vcpu.setNestedState(blob), refusal: why.map(Refusal.nestedState))
        case .setVcpuEvents(let p):
            let exception = p.exceptionUpdate(vcpu)
            let why = exception.flatMap { vcpu.kvmVcpuEventsRejection(exception: $0) }
            let r = vcpu.setVcpuEvents(smm: p.smmUpdate(vcpu), smiPending: p.smiPending, latchedInit: p.latchedInit,
                                       tripleFault: p.tripleFault, interrupt: p.interrupt, exception: exception)
            issued(.setVcpuEvents, r, refusal: why.map(Refusal.vcpuEvents), asked: p.tripleFault == true)
        case .snapshot(let slot):
            issued(.getState, vcpu.vmDead ? .eio : .ok)
            if !vcpu.vmDead {
                _ = vcpu.kvmVcpuIoctlX86GetVcpuEvents()     // its process_nmi may raise KVM_REQ_EVENT
                snapshots[Int(slot.rawValue)] = VcpuSnapshot(of: vcpu)
                snapshotValid |= 1 << slot.rawValue
                if guestReachable {
                    snapshotReachable |= 1 << slot.rawValue
                } else {
                    snapshotReachable &= ~(1 << slot.rawValue)
                }
            }
        case .restore(let slot, let order, let fresh):
            guard let snap = snapshot(slot) else {
                now.record.ioctlResult = .einval          // nothing to put: the VMM has no such snapshot
                guestReachable = false
                return
            }
            // A migration target: a vCPU created in a new VM over the same guest memory (the one
            // unrestorable-state migrates into), which replaces this one.
            if fresh { replaceVcpu(with: pristine) }
            restore(snap, order: order)
            guestReachable = now.record.ioctlResult == .ok && order.isMigrationOrder && snapshotReachable & (1 << slot.rawValue) != 0
        case .reset:
            systemReset()
        default:
            break
        }
    }

    /// Whether `op`, whose ioctls returned `result`, just put every register again (a reset, or a
    /// restore with REGS and SREGS that succeeded). Static: a method call on self from the mutating
    /// code copies the whole 9 KB executor first (measured: half of the harness's instructions).
    private static func putAllRegisters(_ op: Operation, result: Errno?, replacedVcpu: Bool) -> Bool {
        switch op {
        case .reset: return result == .ok
        // A restore into a fresh vCPU leaves nothing of the old one, the triple fault it had included;
        // one of a slot never taken replaced nothing (a README campaign's false l1-runs-l2-state).
        case .restore(_, let order, _):
            return replacedVcpu || (result == .ok && order.contains(.regs) && order.contains(.sregs))
        default: return false
        }
    }

    /// The snapshot in `slot`, nil when none was taken. `mutating` only so that calls from mutating
    /// code and from the invariants' `inout` executor read it in place instead of copying the executor.
    mutating func snapshot(_ slot: Slot) -> VcpuSnapshot? {
        snapshotValid & (1 << slot.rawValue) != 0 ? snapshots[Int(slot.rawValue)] : nil
    }

    private mutating func resumeIfStuffed() {
        if halted && stuffedRegs && stuffedSregs { halted = false }
    }

    // MARK: - Restore and reset

    /// Puts `s` in `order`, recording each ioctl; the result of the whole is the first failure's.
    private mutating func put(_ s: VcpuSnapshot, order: RestoreOrder) -> PutResult {
        let r = vcpu.put(s, order: order)
        for i in 0..<r.calls.count { now.record.ioctls.append(r.calls[i]) }
        now.record.ioctlResult = r.failure?.result ?? .ok
        return r
    }

    /// `restore`: the snapshot's SET ioctls in the given order (judged by spurious-triple-fault and
    /// restore-mismatch at the ioctl checkpoint).
    private mutating func restore(_ snap: VcpuSnapshot, order: RestoreOrder) {
        let r = put(snap, order: order)
        // Like set_regs + set_sregs after a shutdown, a restore that puts both resumes the guest
        // (unless it failed, or raised a triple fault, which leaves the VMM where it was).
        if r.raisedTripleFault == nil && r.failure == nil && order.contains(.regs) && order.contains(.sregs) {
            halted = false
        }
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

    /// `destroy`: the VMM closes the VM, so KVM destroys the vCPU (its WARNs are judged by kvm-warn at the
    /// end of the step); then the VMM creates a new VM and vCPU over the same guest memory and puts the
    /// program's initial state, which is guest-reachable again (a fresh start).
    private mutating func destroyAndRecreate() {
        vcpu.kvmArchVcpuDestroy()
        replaceVcpu(with: pristine)
        guestReachable = true
    }

    /// The VMM goes on with a new vCPU (`initial`, with this one's guest memory and host log): a new
    /// KVM_RUN thread that was never stopped, with no signal pending and nothing stuffed yet.
    private mutating func replaceVcpu(with initial: Vcpu) {
        vcpu = vcpu.recreated(as: initial)
        inRun = false
        halted = false
        signalPending = false
        stuffedRegs = false
        stuffedSregs = false
        discardedTripleFault = false
    }

    private mutating func systemReset() {
        let r = put(Executor.qemuResetState, order: .qemu)
        if r.raisedTripleFault != nil { return }
        if r.failure != nil {
            guestReachable = false
            return
        }
        halted = false
        // The reset state is guest-reachable (a guest can reboot), if the reset put all of it:
        // without nested state QEMU leaves GIF as the VMM last stuffed it.
        if VcpuSnapshot.migratesNestedState(vcpu.config) { guestReachable = true }
    }

    // MARK: - KVM_RUN

    /// A guest instruction runs inside KVM_RUN at whichever level is running; with `forcedEmulation`
    /// behind KVM's forced-emulation prefix (the instruction checks judge it only if it executed).
    private mutating func guestInstruction(_ insn: GuestInstruction, forcedEmulation: Bool = false) {
        guard let started = startRun() else { return }
        now.record.ran = .none
        if started || resumeAfterReads() {
            let signalled = signalPending
            if enterGuest() { return }
            // A signal ended this KVM_RUN before any entry (KVM_EXIT_INTR): the VMM runs the vCPU again,
            // as QEMU and the real-KVM runner do, and the guest goes on to the instruction.
            if signalled && !inRun && startRun() == true {
                if enterGuest() { return }
            }
            // The entry itself exited to userspace: the instruction never ran.
            if !inRun { return }
            entryInjected = vcpu.lastInjected
        }
        now.record.ran = Ran(vcpu.mode)
        now.instruction.insn = insn
        now.instruction.before = StateBefore(vcpu)
        now.instruction.vmcb12 = nil
        if case .vmrun(let gpa) = insn, now.instruction.before.mode == .l1 { now.instruction.vmcb12 = vcpu.readGuestVmcb(gpa) }
        let (handling, executed) = forcedEmulation ? vcpu.runForcedEmulation(insn) : (vcpu.runGuestInstruction(insn), true)
        now.instruction.resumed = handling == .resume
        now.instruction.executed = executed
        now.record.injected = vcpu.lastInjected
        now.record.vmexitCode = vcpu.lastVmexitCode
        // Judged before KVM re-enters the guest (GifChanged, HsavePaRules, InterceptNotReflected, VmrunOutcome).
        if executed { check(.instruction) }
        switch handling {
        case .resume:
            _ = enterGuest()
        case .exitToUserspace(let reason):
            endRun(reason)
        case .error(let errno):
            now.record.ioctlResult = errno
            endRun(.none)
        }
    }

    /// `run`: a KVM_RUN that enters and is interrupted before any guest instruction.
    private mutating func kvmRun() {
        guard let started = startRun() else { return }
        if !started { _ = resumeAfterReads() }
        if enterGuest() { return }
        leaveRun()
    }

    /// `run` with kvm_run's doors (RunRequest): userspace fills kvm_run between two KVM_RUNs, so a
    /// running one is interrupted first. sync_regs stuffs state as the SET ioctls do (judged at the
    /// ioctl checkpoint, and the state is no longer guest-reachable), but inside KVM_RUN; a refused
    /// block makes KVM_RUN fail with -EINVAL before any entry, and immediate_exit returns -EINTR there.
    private mutating func kvmRun(_ req: RunRequest) {
        leaveRun()
        // After a shutdown the VMM runs the vCPU again only once it has put all registers, here both
        // sync blocks of this very KVM_RUN.
        if vcpu.vmDead || (halted && (req.regs == nil || req.sregs == nil)) {
            skip(vcpu.vmDead ? .vmDead : .guestStopped)
            return
        }
        now.record.ioctlResult = .ok
        vcpu.kvmVcpuIoctlRunBegin(immediateExit: req.immediateExit)
        inRun = true
        enteredInRun = false
        if req.syncs {
            guestReachable = false
            let r = vcpu.syncRegs(req.kvmSyncRegs(vcpu))
            synced(.setRegs, r.regs)
            synced(.setSregs, r.sregs)
            synced(.setVcpuEvents, r.events)
            if r.regs?.result == .ok { stuffedRegs = true }
            if r.sregs?.result == .ok { stuffedSregs = true }
            resumeIfStuffed()
            if now.before.tripleFault && !vcpu.requests.contains(.tripleFault) { discardedTripleFault = true }
            now.operation = .runWith(req)
            check(.ioctl)
            if r.result != .ok { return kvmRunReturnEarly(.none, r.result) }
        }
        if req.immediateExit { return kvmRunReturnEarly(.intr, .ok) }
        vcpu.kvmX86VcpuPreRun()
        if enterGuest() { return }
        leaveRun()
    }

    /// Records one block of sync_regs as the SET ioctl whose path it took.
    private mutating func synced(_ kind: IoctlKind, _ part: SyncRegsPart?) {
        guard let part else { return }
        now.record.ioctls.append(IoctlCall(kind, part.result, refusal: part.refusal.map(Refusal.sregs),
                                           raisedTripleFault: part.raisedTripleFault))
    }

    /// KVM_RUN returned before vcpu_run: no guest ran, the VMM goes on (a refused sync is its own
    /// stuffing refused, like a failed SET ioctl).
    private mutating func kvmRunReturnEarly(_ reason: ExitReason, _ r: Errno) {
        vcpu.kvmRunReturnEarly()
        inRun = false
        now.record.exit = reason
        now.record.ioctlResult = r
        check(.exit)
    }

    /// Issues KVM_RUN unless the VMM would not run the guest now (halted, VM dead): nil when skipped,
    /// true when a new KVM_RUN started, false when one was already running.
    private mutating func startRun() -> Bool? {
        if halted || vcpu.vmDead {
            skip(vcpu.vmDead ? .vmDead : .guestStopped)
            return nil
        }
        now.record.ioctlResult = .ok
        if inRun { return false }
        vcpu.kvmRunBegin()
        inRun = true
        enteredInRun = false
        return true
    }

    /// The runner's reads raised KVM_REQ_EVENT (readsStateAtEveryStep): the runner had left KVM_RUN at
    /// its doorbell (an exit), so the vCPU's next entry, the first of a new KVM_RUN, services the
    /// request before the step's instruction. True when the caller must make that entry.
    private mutating func resumeAfterReads() -> Bool {
        guard readsRaisedEvent, inRun else { return false }
        vcpu.svmKickExit()
        return true
    }

    /// An SMI or INIT kicks a running vCPU out of the guest; KVM services it before re-entering.
    private mutating func kick() {
        guard inRun else { return }
        vcpu.svmKickExit()
        _ = enterGuest()
    }

    /// vcpu_enter_guest, judged at every entry (l1-runs-l2-state). True when that entry violated an
    /// invariant: the step goes no further (the instruction does not run, the run is not left).
    private mutating func enterGuest() -> Bool {
        // A signal that came while the guest ran ends KVM_RUN in vcpu_run's loop, after the exit was
        // handled and before vcpu_enter_guest services anything (xfer_to_guest_mode work).
        if signalPending && enteredInRun {
            signalPending = false
            endRun(.intr)
            return false
        }
        // One pending when KVM_RUN starts lets vcpu_enter_guest service requests and events, then
        // cancels the entry (kvm_vcpu_exit_request): KVM_EXIT_INTR. A KVM_RUN that never entered reads
        // nothing back from the VMCB (no svm_handle_exit: CR3 stays what KVM_SET_SREGS put in
        // vcpu->arch, real 6.1.192 and 6.12.117 agree).
        let signalled = signalPending
        signalPending = false
        readsRaisedEvent = false                    // this entry services what the reads raised
        let entry = vcpu.vcpuEnterGuest(signalPending: signalled)
        switch entry {
        case .cancelled:
            kvmRunReturnEarly(.intr, .ok)
            return false
        case .entered(let mode), .livelock(let mode):
            enteredInRun = true
            if let d = vcpu.lastDelivered { now.record.delivered = d }
            let had = stepViolation != nil
            now.entryMode = mode
            check(.entry)
            let stops = stopsStepAtViolation && !had && stepViolation != nil
            // A livelocked entry is judged as any other, then KVM never leaves the loop: the VMM's timer
            // signal ends KVM_RUN and it gives up on the vCPU.
            if case .livelock = entry, !stops { endRun(.hang) }
            return stops
        case .exit(let reason):
            // KVM_RUN returned for its own reason first; the signal, blocked again outside KVM_RUN,
            // still waits for the next entry.
            signalPending = signalled
            endRun(reason)
            return false
        }
    }

    /// Interrupts a running vCPU so userspace can issue an ioctl.
    private mutating func leaveRun() {
        guard inRun else { return }
        endRun(.intr)
    }

    /// KVM_RUN returns to userspace (judged by unrestorable-state: could the state be migrated now?).
    private mutating func endRun(_ reason: ExitReason) {
        vcpu.kvmRunEnd(reason)
        inRun = false
        now.record.exit = reason
        if reason != .intr {
            halted = true
            stuffedRegs = false
            stuffedSregs = false
        }
        check(.exit)
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
