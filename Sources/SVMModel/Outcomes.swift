// What the outside world sees: exits to userspace, ioctl results, injected exceptions.

/// kvm_run->exit_reason after KVM_RUN returns.
public enum ExitReason: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case none
    /// KVM_EXIT_SHUTDOWN
    case shutdown
    /// KVM_EXIT_INTR: the VMM interrupted the run to issue an ioctl.
    case intr
    /// KVM_EXIT_INTERNAL_ERROR
    case internalError
    /// KVM_EXIT_FAIL_ENTRY
    case failEntry
    /// KVM_EXIT_UNKNOWN: vcpu_enter_guest returned 0 without setting a reason.
    case unknown
    /// kvm_vm_dead: every later ioctl fails with -EIO.
    case vmDead
    /// KVM_RUN does not return: KVM re-enters the guest forever (6.1's NPF livelock on a root a forced
    /// leave left stale), until a signal; the VMM gives up on the vCPU as after a shutdown.
    case hang

    public var description: String {
        switch self {
        case .none: return "none"
        case .shutdown: return "shutdown"
        case .intr: return "intr"
        case .internalError: return "internal_error"
        case .failEntry: return "fail_entry"
        case .unknown: return "unknown"
        case .vmDead: return "vm_dead"
        case .hang: return "hang"
        }
    }
}

/// An ioctl's result.
public enum Errno: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case ok, einval, enomem, efault, e2big, eio, ebusy
    public var description: String {
        switch self {
        case .ok: return "ok"
        case .einval: return "einval"
        case .enomem: return "enomem"
        case .efault: return "efault"
        case .e2big: return "e2big"
        case .eio: return "eio"
        case .ebusy: return "ebusy"
        }
    }
}

/// The level executing guest code.
public enum Mode: UInt8, Sendable, CustomStringConvertible {
    case l1, l2, smm
    public var description: String {
        switch self {
        case .l1: return "l1"
        case .l2: return "l2"
        case .smm: return "smm"
        }
    }
}
