// The shape of an invariant: an id, why it must hold, where in a step its facts exist, and one pure
// check over the step (state before, record, state after). The registry (Registry.swift) lists them in order and is the only place that turns a
// check's finding into a Violation.

import SVMModel

/// The moments of a step at which facts exist that are gone by its end. A check runs at one of them.
public enum CheckpointKind: UInt8, Sendable, CaseIterable {
    /// KVM entered the guest (vcpu_enter_guest returned to it): the owners it enters with.
    case entry
    /// KVM_RUN returned to userspace: the state userspace could migrate now, before any ioctl changes it.
    case exit
    /// A guest instruction was handled, before KVM re-enters the guest.
    case instruction
    /// A userspace operation's ioctls returned.
    case ioctl
    /// The end of the step.
    case step
}

/// What the vCPU looked like before something: the part of "state before" the checks read (a
/// summary, so that no step copies the whole vCPU).
public struct StateBefore: Sendable {
    public var mode: Mode
    public var gif: Bool
    public var hsaveMsr: UInt64
    public var efer: UInt64
    public var cr0: UInt64
    /// The running level's CPL (the current VMCB's).
    public var cpl: UInt8
    /// vmcb12's intercepts as cached (svm->nested.ctl).
    public var intercepts: InterceptSet
    public var tripleFault: Bool
    public var smmL1Mismatch: Bool
    public var l1RestoreMismatch: Bool

    @inline(__always) init(_ v: borrowing Vcpu) {
        mode = v.mode
        gif = v.gif
        hsaveMsr = v.nested.hsaveMsr
        efer = v.efer
        cr0 = v.cr0
        cpl = v.cpl
        intercepts = v.nested.ctl.intercepts
        tripleFault = v.requests.contains(.tripleFault)
        // A pattern, not `!= nil`: comparing with nil copies the record out first.
        if case .some = v.smmL1Mismatch { smmL1Mismatch = true } else { smmL1Mismatch = false }
        if case .some = v.l1RestoreMismatch { l1RestoreMismatch = true } else { l1RestoreMismatch = false }
    }
}

/// The facts of one guest instruction, for the `instruction` checkpoint.
public struct InstructionFacts: Sendable {
    public var insn: GuestInstruction
    /// Right before the instruction ran (after the entry that preceded it).
    public var before: StateBefore
    /// vmcb12 as read before a VMRUN from L1 (nil: another instruction, or it could not be read).
    public var vmcb12: Vmcb?
    /// KVM resumes the guest after handling it (no exit to userspace, no error).
    public var resumed: Bool
    /// The instruction itself executed (false: the forced-emulation prefix's #UD was delivered instead).
    public var executed: Bool = true
}

/// The step in progress as the checks see it: the state at its start, its record so far, and the
/// facts of the checkpoint being judged. The state now is the executor's vCPU.
public struct StepContext: Sendable {
    /// At the `ioctl` checkpoint: the userspace operation.
    public var operation: Operation
    public var before: StateBefore
    public var record: StepRecord
    /// At the `entry` checkpoint: the level KVM entered.
    public var entryMode: Mode = .l1
    /// At the `instruction` checkpoint: the instruction just handled.
    public var instruction: InstructionFacts
}

/// A failed check: the id, the reason token, and the message (built only when the check fails).
public struct CheckFailure: Sendable {
    public var id: InvariantID
    public var reason: ViolationReason?
    public var detail: String
    public init(_ id: InvariantID, _ detail: String, reason: ViolationReason? = nil) {
        self.id = id; self.detail = detail; self.reason = reason
    }
}

public protocol Invariant {
    static var family: InvariantFamily { get }
    /// Why it must hold: the APM section or KVM's documented behaviour.
    static var justification: String { get }
    static var checkpoint: CheckpointKind { get }
    /// A root cause: reported even when an earlier checkpoint of the same step already failed
    /// (what it leads to later in the operation is then not the finding).
    static var supersedesEarlier: Bool { get }
    /// Pure: reads the step (`ex.now`: state before, record so far, checkpoint facts) and the state
    /// after it (`ex.vcpu`, the VMM context), and never writes. `inout` only passes the 7 KB executor
    /// by address: a borrowed argument from the executor's mutating code is copied at every call,
    /// which halved the fuzzer's speed when measured.
    static func check(_ ex: inout Executor) -> CheckFailure?
}

extension Invariant {
    public static var supersedesEarlier: Bool { false }
}
