// What one executed operation did, as the executor saw it: the single source the invariants, the
// trace, the JSON lines, `diff`, the minimizer and the real-KVM comparison read. A fixed-size value
// (no String, no Array) so that the fuzzer's hot path returns one per operation without allocating.

import SVMModel

/// Who executed the operation.
public enum Ran: UInt8, Sendable, CustomStringConvertible {
    /// A guest instruction, at the level that ran it.
    case l1, l2, smm
    /// An ioctl or a guest-memory write by the VMM.
    case userspace
    /// smi, init, signal.
    case platform
    /// Not executed; `StepRecord.skip` says why.
    case skipped
    /// KVM_RUN returned (or an invariant failed at the entry) before the instruction ran.
    case none
    case expect

    public var description: String {
        switch self {
        case .l1: return "l1"
        case .l2: return "l2"
        case .smm: return "smm"
        case .userspace: return "userspace"
        case .platform: return "platform"
        case .skipped: return "skipped"
        case .none: return "none"
        case .expect: return "expect"
        }
    }

    init(_ m: Mode) {
        switch m {
        case .l1: self = .l1
        case .l2: self = .l2
        case .smm: self = .smm
        }
    }
}

/// Why an operation was skipped.
public enum SkipReason: UInt8, Sendable, CustomStringConvertible {
    /// After an exit QEMU stops the guest on, until a reset or a restore of all registers.
    case guestStopped
    /// kvm_vm_dead: the VMM does not run the guest again.
    case vmDead
    /// The model's guest memory holds `GuestMemory.capacity` pages and the write needed another.
    case guestMemoryFull

    public var description: String {
        switch self {
        case .guestStopped: return "guest-stopped"
        case .vmDead: return "vm-dead"
        case .guestMemoryFull: return "guest-memory-full"
        }
    }
}

/// A vCPU ioctl userspace issues between runs.
public enum IoctlKind: UInt8, Sendable, CustomStringConvertible {
    case setSregs, setRegs, setMsrs, setNestedState, setVcpuEvents
    /// A snapshot: KVM_GET_REGS/SREGS/MSRS/VCPU_EVENTS/NESTED_STATE, one result for all.
    case getState

    public var description: String {
        switch self {
        case .setSregs: return "KVM_SET_SREGS"
        case .setRegs: return "KVM_SET_REGS"
        case .setMsrs: return "KVM_SET_MSRS"
        case .setNestedState: return "KVM_SET_NESTED_STATE"
        case .setVcpuEvents: return "KVM_SET_VCPU_EVENTS"
        case .getState: return "KVM_GET_*"
        }
    }

    init(_ s: RestoreStep) {
        switch s {
        case .sregs: self = .setSregs
        case .nested: self = .setNestedState
        case .regs: self = .setRegs
        case .msrs: self = .setMsrs
        case .events: self = .setVcpuEvents
        }
    }
}

/// The named rule by which KVM refused a SET ioctl (Refusals.swift in the core).
public enum Refusal: Hashable, Sendable, CustomStringConvertible {
    case sregs(SregsRefusal)
    case nestedState(NestedStateRefusal)
    case vcpuEvents(VcpuEventsRefusal)

    public var description: String {
        switch self {
        case .sregs(let r): return r.rawValue
        case .nestedState(let r): return r.rawValue
        case .vcpuEvents(let r): return r.rawValue
        }
    }
}

/// One ioctl issued during a step.
public struct IoctlCall: Hashable, Sendable {
    public var kind: IoctlKind
    public var result: Errno
    /// The rule KVM refused it by, when one of the named checks did.
    public var refusal: Refusal?
    /// It left a triple fault pending that was not pending before it (and was not asked for).
    public var raisedTripleFault: Bool

    public init(_ kind: IoctlKind, _ result: Errno, refusal: Refusal? = nil, raisedTripleFault: Bool = false) {
        self.kind = kind; self.result = result; self.refusal = refusal; self.raisedTripleFault = raisedTripleFault
    }
}

/// Up to five ioctls (a restore's), in issue order, without heap storage.
public struct IoctlCalls: Sendable {
    public static let capacity = 5
    private var storage: InlineArray<5, IoctlCall> = .init(repeating: IoctlCall(.getState, .ok))
    public private(set) var count = 0
    /// Where the first failure and the first triple-fault raiser are (-1: none), kept at append so
    /// the invariants that ask at every ioctl checkpoint need no scan.
    private var failureAt: Int8 = -1
    private var raiserAt: Int8 = -1

    public init() {}

    mutating func append(_ c: IoctlCall) {
        guard count < IoctlCalls.capacity else { return }
        storage[count] = c
        if failureAt < 0 && c.result != .ok { failureAt = Int8(count) }
        if raiserAt < 0 && c.raisedTripleFault { raiserAt = Int8(count) }
        count += 1
    }

    public subscript(i: Int) -> IoctlCall { storage[i] }
    public var last: IoctlCall? { count > 0 ? storage[count - 1] : nil }
    /// The first call that failed.
    public var firstFailure: IoctlCall? { failureAt < 0 ? nil : storage[Int(failureAt)] }
    public var hasFailure: Bool { failureAt >= 0 }
    /// The first call that raised a triple fault.
    public var firstRaiser: IoctlCall? { raiserAt < 0 ? nil : storage[Int(raiserAt)] }
}

public struct StepRecord: Sendable {
    /// 1-based index of the operation.
    public var step: Int
    /// Source line (0: unknown).
    public var line: Int
    public var ran: Ran = .userspace
    public var skip: SkipReason? = nil
    /// KVM_RUN returned to userspace during this step, with this reason (`none`: it returned an errno).
    public var exit: ExitReason? = nil
    /// The result this step's ioctls came to: the failing one's errno or ok; for a guest instruction
    /// or `run`, KVM_RUN's (ok once it runs, the errno when it fails). nil: the step issued none.
    public var ioctlResult: Errno? = nil
    /// The SET/GET ioctls userspace issued, each with its result.
    public var ioctls = IoctlCalls()
    /// The exit code of the last emulated #VMEXIT to L1 during this step.
    public var vmexitCode: UInt64? = nil
    /// The exception KVM injected into the running level (for a guest instruction that was not skipped).
    public var injected: UInt8? = nil
    /// The event VMRUN delivered from EVENTINJ at the last entry into L2 during this step.
    public var delivered: DeliveredEvent? = nil
    /// WARN sites that fired during this step.
    public var warnings = WarnSet()
    /// After the step: the running level, GIF, pending requests and register owners.
    public var mode: Mode = .l1
    public var gif = true
    public var requests = Requests()
    public var owners = RegisterOwners()
    public var current: VmcbSlot = .vmcb01
    /// The violation this step caused (its message: `Executor.stepViolation`).
    public var violation: ViolationCode? = nil

    public init(step: Int, line: Int) {
        self.step = step
        self.line = line
    }

    /// Set for SET/GET operations: their ioctl result is theirs even without a call (a restore of
    /// an empty slot fails before issuing any).
    public var userspaceIoctl = false

    /// The ioctl result a person reads for this step: the userspace ioctls' result, or KVM_RUN's when
    /// it returned during the step (a guest instruction, `run`, an SMI or INIT kick).
    public var shownIoctl: Errno? {
        if userspaceIoctl { return ioctlResult }
        guard let e = exit else { return nil }
        return e == .none ? ioctlResult : .ok
    }

    /// The owners of the registers the running context sees, in RegisterOwners.names order.
    public var visibleOwners: [Owner] { owners.visible(current: current) }
}
