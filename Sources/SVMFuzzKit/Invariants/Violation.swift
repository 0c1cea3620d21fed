// Invariant violations: each has a stable id that corpus files, tests and scripts refer to.

import SVMModel

public enum InvariantID: Hashable, Sendable, CustomStringConvertible {
    /// A guest instruction executes (or KVM_RUN enters) in L1 context while L2 owns a register.
    case l1RunsL2State
    /// Userspace stuffing state made a triple fault pending: a KVM_SET_SREGS/REGS/MSRS/NESTED_STATE
    /// raised one (only KVM_SET_VCPU_EVENTS may, when asked), or after a restore or reset whose
    /// ioctls all succeeded one is pending that the restored state did not have. A triple fault is
    /// a guest event; KVM must not synthesize one from state the VMM puts (Yosry, 2026-02-26).
    case spuriousTripleFault
    /// After a restore in a migration order whose ioctls all succeeded, GET_* differs from the snapshot.
    case restoreMismatch
    /// The state at a return to userspace cannot be migrated into a fresh vCPU.
    case unrestorableState
    /// A modeled WARN_ON fired.
    case kvmWarn(WarnSite)
    /// A structural rule of KVM's nested state broke.
    case inconsistentState(ConsistencyRule)
    /// GifRules.swift: an instruction other than STGI/CLGI/VMRUN/#VMEXIT changed GIF.
    case gifChanged
    /// Vmcb12Checked.swift: in guest mode under vmcb12 controls VMRUN's checks refuse.
    case vmcb12Unchecked
    /// HsaveRules.swift: a VM_HSAVE_PA rule of the APM / KVM broke.
    case hsavePaRules
    /// InterceptReflection.swift: an instruction intercepted by vmcb12 left the vCPU in L2.
    case interceptNotReflected
    /// IoctlAcceptance.swift: a SET ioctl accepted state the vCPU cannot have.
    case ioctlAcceptsInvalid
    /// VmrunOutcome.swift: VMRUN's outcome disagrees with the APM consistency checks, or VMRUN in L1 did nothing.
    case vmrunOutcome
    /// SmmL1State.swift: an SMI in L2 and RSM back into L2 changed L1's saved state.
    case smmL1State

    public var description: String {
        switch self {
        case .l1RunsL2State: return "l1-runs-l2-state"
        case .spuriousTripleFault: return "spurious-triple-fault"
        case .restoreMismatch: return "restore-mismatch"
        case .unrestorableState: return "unrestorable-state"
        case .kvmWarn(let s): return "kvm-warn:\(s.name)"
        case .inconsistentState(let r): return "inconsistent-state:\(r.rawValue)"
        case .gifChanged: return "gif-changed"
        case .vmcb12Unchecked: return "vmcb12-unchecked"
        case .hsavePaRules: return "hsave-pa-rules"
        case .interceptNotReflected: return "intercept-not-reflected"
        case .ioctlAcceptsInvalid: return "ioctl-accepts-invalid"
        case .vmrunOutcome: return "vmrun-outcome"
        case .smmL1State: return "smm-l1-state"
        }
    }

    /// The id family (`inconsistent-state`, `kvm-warn`, ...), for matching findings loosely.
    public var family: String {
        let d = description
        if let colon = d.firstIndex(of: ":") { return String(d[..<colon]) }
        return d
    }
}

public struct Violation: Hashable, Sendable, CustomStringConvertible {
    public var id: InvariantID
    /// 1-based index of the operation after which it was seen.
    public var step: Int
    /// Source line of that operation (0 when unknown).
    public var line: Int
    public var detail: String
    /// A short stable token saying which way the invariant failed (e.g. the refused ioctl and its
    /// rule), for telling findings apart; empty when the id says it all.
    public var reason: String = ""

    /// `<id>` or `<id> <reason>`: what corpus/known-issues.txt lists.
    public var signature: String { reason.isEmpty ? id.description : "\(id) \(reason)" }

    public var description: String {
        "VIOLATION \(id) at step \(step)\(line > 0 ? " (line \(line))" : ""): \(detail)"
    }
}
