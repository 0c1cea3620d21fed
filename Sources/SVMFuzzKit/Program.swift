// A program: the operations the fuzzer and users run against the vCPU model.
// Its text form is the .svm language (Language/), its byte form the codec (Codec/).

import SVMModel

/// A snapshot slot (`snapshot A`, `restore A`).
public enum Slot: UInt8, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case a, b, c, d
    public var description: String { ["A", "B", "C", "D"][Int(rawValue)] }
}

/// One KVM_SET_* ioctl of a restore.
public enum RestoreStep: UInt8, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case sregs, nested, regs, msrs, events
    public var description: String { ["sregs", "nested", "regs", "msrs", "events"][Int(rawValue)] }
}

/// The order in which a restore issues its ioctls: a sequence of distinct steps, packed so that
/// an Operation carries no heap storage.
public struct RestoreOrder: Hashable, Sendable, CustomStringConvertible {
    /// count in bits 0-2, step i in bits 3+3i ..< 6+3i.
    public private(set) var packed: UInt32

    public init?(_ steps: [RestoreStep]) {
        guard !steps.isEmpty, steps.count <= 5, Set(steps).count == steps.count else { return nil }
        var p = UInt32(steps.count)
        for (i, s) in steps.enumerated() { p |= UInt32(s.rawValue) << (3 + 3 * i) }
        packed = p
    }

    public var count: Int { Int(packed & 7) }
    public func step(_ i: Int) -> RestoreStep { RestoreStep(rawValue: UInt8((packed >> (3 + 3 * i)) & 7))! }
    public var steps: [RestoreStep] { (0..<count).map(step) }

    /// Whether the order issues `s` (without building an array).
    public func contains(_ s: RestoreStep) -> Bool {
        for i in 0..<count where step(i) == s { return true }
        return false
    }

    /// The position of `s` in the order, if it is issued.
    public func position(of s: RestoreStep) -> Int? {
        for i in 0..<count where step(i) == s { return i }
        return nil
    }

    /// QEMU's kvm_arch_put_registers (target/i386/kvm/kvm.c): SREGS first "so that EFER.SVME is set"
    /// before the nested state, then REGS, MSRS, VCPU_EVENTS.
    public static let qemu = RestoreOrder([.sregs, .nested, .regs, .msrs, .events])!

    public var description: String { self == .qemu ? "qemu" : steps.map(\.description).joined(separator: ",") }
}

/// Fields of KVM_SET_SREGS; nil keeps the current value.
public struct SregsPatch: Hashable, Sendable {
    public var efer: UInt64?, cr0: UInt64?, cr2: UInt64?, cr3: UInt64?, cr4: UInt64?
    public init(efer: UInt64? = nil, cr0: UInt64? = nil, cr2: UInt64? = nil, cr3: UInt64? = nil, cr4: UInt64? = nil) {
        self.efer = efer; self.cr0 = cr0; self.cr2 = cr2; self.cr3 = cr3; self.cr4 = cr4
    }
}

/// Fields of KVM_SET_REGS; nil keeps the current value.
public struct RegsPatch: Hashable, Sendable {
    public var rip: UInt64?, rsp: UInt64?, rax: UInt64?, rflags: UInt64?
    public init(rip: UInt64? = nil, rsp: UInt64? = nil, rax: UInt64? = nil, rflags: UInt64? = nil) {
        self.rip = rip; self.rsp = rsp; self.rax = rax; self.rflags = rflags
    }
}

/// Entries of KVM_SET_MSRS, issued in the order efer, hsave_pa, vm_cr; nil entries are left out.
public struct MsrsPatch: Hashable, Sendable {
    public var efer: UInt64?, hsavePa: UInt64?, vmCr: UInt64?
    public init(efer: UInt64? = nil, hsavePa: UInt64? = nil, vmCr: UInt64? = nil) {
        self.efer = efer; self.hsavePa = hsavePa; self.vmCr = vmCr
    }
}

/// Fields of KVM_SET_VCPU_EVENTS; nil fields are not marked valid.
/// smi_pending and latched_init ride on the SMM block (KVM_VCPUEVENT_VALID_SMM), as in KVM.
public struct EventsPatch: Hashable, Sendable {
    public var smm: Bool?, smiPending: Bool?, latchedInit: Bool?, tripleFault: Bool?
    /// interrupt.injected (KVM_SET_VCPU_EVENTS always sets the interrupt block).
    public var interrupt: Bool?
    /// The exception block (always taken by KVM): `exception=<vector>` queues that vector, pending unless
    /// `injected`, with an error code only if `error_code=` is given; without `exception=`, `pending`/
    /// `injected` and `error_code=` change the exception read back (KVM_GET_VCPU_EVENTS).
    public var exception: UInt8?
    /// `injected` (true) or `pending` (false): exception.injected / exception.pending.
    public var exceptionInjected: Bool?
    /// exception.has_error_code and error_code.
    public var errorCode: UInt32?
    public init(smm: Bool? = nil, smiPending: Bool? = nil, latchedInit: Bool? = nil, tripleFault: Bool? = nil,
                interrupt: Bool? = nil, exception: UInt8? = nil, exceptionInjected: Bool? = nil, errorCode: UInt32? = nil) {
        self.smm = smm; self.smiPending = smiPending; self.latchedInit = latchedInit; self.tripleFault = tripleFault
        self.interrupt = interrupt
        self.exception = exception; self.exceptionInjected = exceptionInjected; self.errorCode = errorCode
    }

    /// Whether the patch touches the exception block.
    public var changesException: Bool { exception != nil || exceptionInjected != nil || errorCode != nil }

    /// The exception block KVM receives: the given fields over the one read back (`current`).
    public func exceptionBlock(over current: KvmException?) -> KvmException? {
        guard changesException else { return current }
        var e = exception.map { KvmException(vector: $0) } ?? current ?? KvmException(vector: 0)
        if let i = exceptionInjected { e.injected = i }
        if let c = errorCode { e.errorCode = c }
        return e
    }
}

/// Fields of the SMRAM state-save image a program writes; nil keeps the current value.
public struct SmramPatch: Hashable, Sendable {
    public var efer: UInt64?, cr0: UInt64?, cr3: UInt64?, cr4: UInt64?
    public var rip: UInt64?, rsp: UInt64?, rax: UInt64?, rflags: UInt64?
    public var svmGuest: Bool?, vmcb: UInt64?
    public init(efer: UInt64? = nil, cr0: UInt64? = nil, cr3: UInt64? = nil, cr4: UInt64? = nil,
                rip: UInt64? = nil, rsp: UInt64? = nil, rax: UInt64? = nil, rflags: UInt64? = nil,
                svmGuest: Bool? = nil, vmcb: UInt64? = nil) {
        self.efer = efer; self.cr0 = cr0; self.cr3 = cr3; self.cr4 = cr4
        self.rip = rip; self.rsp = rsp; self.rax = rax; self.rflags = rflags
        self.svmGuest = svmGuest; self.vmcb = vmcb
    }
}

/// An `expect` line: every non-nil field must hold after the previous operation.
public struct Expectation: Hashable, Sendable {
    public var exit: ExitReason?
    public var mode: Mode?
    public var gif: Bool?
    public var efer: UInt64?
    public var violation: ExpectedViolation?
    public var ioctl: Errno?
    public var tripleFault: Bool?
    /// exit_code and exit_info1 of the vmcb12 the last VMRUN from L1 named, read from guest memory as L1
    /// reads them after a #VMEXIT.
    public var exitCode: UInt64?
    public var exitInfo1: UInt64?
    /// The exception the last operation showed the guest (none, or a vector): for a guest instruction the
    /// one KVM injected into the level that ran it, for `run` the one delivered at its entry.
    public var exception: ExpectedException?
    /// The registers as KVM_GET_REGS reads them.
    public var rip: UInt64?, rsp: UInt64?, rax: UInt64?, rflags: UInt64?
    public init(exit: ExitReason? = nil, mode: Mode? = nil, gif: Bool? = nil, efer: UInt64? = nil,
                violation: ExpectedViolation? = nil, ioctl: Errno? = nil, tripleFault: Bool? = nil,
                exitCode: UInt64? = nil, exitInfo1: UInt64? = nil, exception: ExpectedException? = nil,
                rip: UInt64? = nil, rsp: UInt64? = nil, rax: UInt64? = nil, rflags: UInt64? = nil) {
        self.exit = exit; self.mode = mode; self.gif = gif; self.efer = efer
        self.violation = violation; self.ioctl = ioctl; self.tripleFault = tripleFault
        self.exitCode = exitCode; self.exitInfo1 = exitInfo1; self.exception = exception
        self.rip = rip; self.rsp = rsp; self.rax = rax; self.rflags = rflags
    }
}

/// `expect exception=`: none, or a vector.
public enum ExpectedException: Hashable, Sendable, CustomStringConvertible {
    case none
    case vector(UInt8)

    public init(_ v: UInt8?) { self = v.map(ExpectedException.vector) ?? .none }

    public var description: String {
        switch self {
        case .none: return "none"
        case .vector(let v): return String(v)
        }
    }
}

/// `expect violation=`: none, or an invariant id or family (`kvm-warn` matches every WARN site).
public enum ExpectedViolation: Hashable, Sendable, CustomStringConvertible {
    case none
    case matching(ViolationPattern)

    public init?(_ text: Substring) {
        if text == "none" { self = .none; return }
        guard !text.contains(" "), let p = ViolationPattern(text) else { return nil }
        self = .matching(p)
    }

    public func matches(_ v: ViolationCode?) -> Bool {
        switch self {
        case .none: return v == nil
        case .matching(let p): return v.map(p.matches) ?? false
        }
    }

    public var description: String {
        switch self {
        case .none: return "none"
        case .matching(let p): return p.description
        }
    }
}

public enum Operation: Hashable, Sendable {
    // Guest instructions, executed inside KVM_RUN by whichever level is running.
    case guest(GuestInstruction)
    /// The instruction behind KVM's forced-emulation prefix (`emulate wrmsr ...`, Emulator.swift):
    /// with `config fep=1` KVM's emulator executes it, else the prefix is a #UD. WRMSR only.
    case emulate(GuestInstruction)
    // Guest memory.
    case vmcb(gpa: UInt64, Vmcb)
    case msrpm(gpa: UInt64, MsrpmImage)
    case smram(SmramPatch)
    /// Another vCPU of the guest writes this image over vmcb12 while KVM emulates the next VMRUN,
    /// after KVM first reads the page (a check-then-use race, played without threads).
    case racingVmcb(Vmcb)
    // Platform events.
    case smi
    case initSignal
    /// A signal for the vCPU thread (e.g. QEMU kicking it for migration): KVM_RUN returns
    /// KVM_EXIT_INTR at its next attempt to enter the guest, after handling the exit in progress.
    case signal
    // Userspace, between KVM_RUN calls.
    case run
    /// KVM_RUN with kvm_run->immediate_exit and/or kvm_dirty_regs (RunRequest.swift); never plain.
    case runWith(RunRequest)
    case setSregs(SregsPatch)
    case setRegs(RegsPatch)
    case setMsrs(MsrsPatch)
    /// KVM_SET_NESTED_STATE with the blob from a snapshot slot, optionally overriding flags, vmcb_pa and
    /// the header's format and size.
    case setNestedState(Slot, flags: UInt32?, vmcbPa: UInt64?, format: UInt16? = nil, size: UInt32? = nil)
    case setVcpuEvents(EventsPatch)
    case snapshot(Slot)
    /// The snapshot's SET ioctls in `order`, into this vCPU, or (`intoFresh`, as a migration target) into
    /// a vCPU just created in a new VM over the same guest memory, which replaces this one.
    case restore(Slot, RestoreOrder, intoFresh: Bool = false)
    /// The VMM's system reset: the reset state put with QEMU's order.
    case reset
    /// The VMM closes the VM: KVM destroys the vCPU (kvm_arch_vcpu_destroy); the VMM then creates a new
    /// VM and vCPU over the same guest memory and puts the program's initial state.
    case destroy
    /// An assertion for hand-written scenarios (the fuzzer never generates it).
    case expect(Expectation)

    /// Whether the operation is a guest instruction (skipped after a shutdown until the VMM resets).
    public var isGuestInstruction: Bool {
        switch self {
        case .guest, .emulate: return true
        default: return false
        }
    }

    /// Whether the step runs guest code at the running level's RIP: a guest instruction, or a KVM_RUN
    /// that enters the guest.
    public var runsGuestCode: Bool {
        switch self {
        case .guest, .emulate, .run: return true
        case .runWith(let r): return !r.immediateExit
        default: return false
        }
    }
}

extension Operation {
    /// The operation's description (Describe/), which the language, the codec, the mutator, the
    /// minimizer and the real-KVM plan are driven by: one line per case, the only place a case is
    /// mapped to its description (Swift cannot do it without a switch).
    var spec: OperationDescription {
        typealias D = OperationDescriptions
        switch self {
        case .guest(let g):
            switch g {
            case .wrmsr: return D.wrmsr
            case .vmrun: return D.vmrun
            case .vmmcall: return D.vmmcall
            case .stgi: return D.stgi
            case .clgi: return D.clgi
            case .vmload: return D.vmload
            case .vmsave: return D.vmsave
            case .tripleFault: return D.tripleFault
            case .rsm: return D.rsm
            }
        case .emulate: return D.emulate
        case .vmcb: return D.vmcb
        case .msrpm: return D.msrpm
        case .smram: return D.smram
        case .racingVmcb: return D.raceVmcb
        case .smi: return D.smi
        case .initSignal: return D.initSignal
        case .signal: return D.signal
        case .run, .runWith: return D.run
        case .setSregs: return D.setSregs
        case .setRegs: return D.setRegs
        case .setMsrs: return D.setMsrs
        case .setNestedState: return D.setNestedState
        case .setVcpuEvents: return D.setVcpuEvents
        case .snapshot: return D.snapshot
        case .restore: return D.restore
        case .reset: return D.reset
        case .destroy: return D.destroy
        case .expect: return D.expect
        }
    }
}

/// The optional `config` line.
public struct ProgramConfig: Hashable, Sendable {
    public var variant: Variant?
    /// `fixes=`: a change to the variant's fix set (FixDelta.swift).
    public var fixes: FixDelta?
    public var nested: Bool?, npt: Bool?, vgif: Bool?, svm: Bool?, lm: Bool?, nrips: Bool?
    /// kvm.force_emulation_prefix (default off).
    public var fep: Bool?
    /// Host CPU features (VcpuConfig.hostNrips, hostVls); absent = present on the host.
    public var hostNrips: Bool?, hostVls: Bool?
    public init(variant: Variant? = nil, fixes: FixDelta? = nil, nested: Bool? = nil, npt: Bool? = nil,
                vgif: Bool? = nil, svm: Bool? = nil, lm: Bool? = nil, nrips: Bool? = nil, fep: Bool? = nil,
                hostNrips: Bool? = nil, hostVls: Bool? = nil) {
        self.variant = variant; self.fixes = fixes; self.nested = nested; self.npt = npt; self.vgif = vgif
        self.svm = svm; self.lm = lm; self.nrips = nrips; self.fep = fep; self.hostNrips = hostNrips
        self.hostVls = hostVls
    }

    public var isEmpty: Bool { self == ProgramConfig() }

    /// The vCPU configuration, with `variant` (e.g. from the command line) overriding the file's, and
    /// the file's `fixes=` then `fixes` (e.g. from the command line) applied to that variant's fix set.
    public func vcpuConfig(variant override: Variant? = nil, fixes extra: FixDelta? = nil) -> VcpuConfig {
        let v = override ?? variant ?? .default
        let delta = (fixes ?? FixDelta()).then(extra ?? FixDelta())
        var c = VcpuConfig(fixes: delta.applied(to: v.fixes), svmeClear: v.svmeClear, nested: nested ?? true,
                           npt: npt ?? true, vgif: vgif ?? true, guestSvm: svm ?? true, guestLm: lm ?? true,
                           guestNrips: nrips ?? true)
        c.forceEmulationPrefix = fep ?? false
        c.hostNrips = hostNrips ?? true
        c.hostVls = hostVls ?? true
        return c
    }
}

public struct Program: Hashable, Sendable {
    public var config: ProgramConfig
    public var operations: [Operation]
    /// The source line of each operation (0 when the program did not come from text).
    public var lines: [Int]

    public init(config: ProgramConfig = ProgramConfig(), operations: [Operation] = [], lines: [Int]? = nil) {
        self.config = config
        self.operations = operations
        self.lines = lines ?? Array(repeating: 0, count: operations.count)
    }

    public static func == (a: Program, b: Program) -> Bool {
        a.config == b.config && a.operations == b.operations
    }
    public func hash(into h: inout Hasher) {
        h.combine(config)
        h.combine(operations)
    }
}

/// The vmcb12 a `vmcb` operation starts from: one that passes every consistency check, intercepting
/// VMRUN and VMMCALL only (like the selftests' generic_svm_setup), entering 64-bit L2.
public enum DefaultVmcb12 {
    public static let value: Vmcb = {
        var v = Vmcb()
        v.control.intercepts = [.vmrun, .vmmcall]
        v.control.asid = 1
        v.save.efer = EFER.sce | EFER.lme | EFER.lma | EFER.nx | EFER.svme
        v.save.cr0 = 0x8005_0033
        v.save.cr3 = 0x3000
        v.save.cr4 = CR4.pae
        v.save.rip = 0x4000
        v.save.rsp = 0x8000
        v.save.rflags = RFLAGS.fixed
        return v
    }()
}
