// The structural rules of nested SVM state (bug zoo INV-RES / INV-NRP / INV-SMM, reference §10),
// checked after every operation. Each holds on every architectural path of correct KVM.

import SVMModel

enum InconsistentState: Invariant {
    static let family = InvariantFamily.inconsistentState
    static let justification = "KVM's nested state: guest mode needs EFER.SVME, nested state allocated and vmcb02; vmcb01 outside it; a trusted nested_run_pending only in guest mode; SMM never in guest mode"
    static let checkpoint = CheckpointKind.step

    static func check(_ ex: inout Executor) -> CheckFailure? {
        ConsistencyRule.firstBroken(ex.vcpu).map { CheckFailure(.inconsistentState($0), $0.explanation) }
    }
}

public enum ConsistencyRule: String, CaseIterable, Hashable, Sendable {
    /// Guest mode needs EFER.SVME: VMRUN checks it and clearing it leaves guest mode.
    case guestModeSvme = "guest-mode-svme"
    /// Guest mode needs vmcb02 and the merged MSRPM allocated.
    case guestModeAllocated = "guest-mode-allocated"
    /// svm->vmcb is vmcb02 exactly in guest mode (WARNed in enter_svm_guest_mode, svm_free_nested).
    case guestModeVmcb02 = "guest-mode-vmcb02"
    case l1Vmcb01 = "l1-vmcb01"
    /// A trusted nested_run_pending (1) only ever describes a pending entry into L2. The untrusted
    /// value 2 (userspace gained control) is exempt, as in kvm_warn_on_nested_run_pending: a #VMEXIT
    /// synthesized before the entry leaves it set outside guest mode.
    case runPendingGuestMode = "run-pending-guest-mode"
    /// SMM is entered only after a #VMEXIT; SET_NESTED_STATE refuses GUEST_MODE in SMM.
    case smmNotGuestMode = "smm-not-guest-mode"

    /// The first rule the vCPU breaks. Inlined: called on the executor's vCPU after every step, an
    /// out-of-line call copies the 3.5 KB vCPU first.
    @inline(__always) public static func firstBroken(_ v: Vcpu) -> ConsistencyRule? {
        if v.guestMode {
            if v.efer & EFER.svme == 0 { return .guestModeSvme }
            if !v.nested.initialized { return .guestModeAllocated }
            if v.current != .vmcb02 { return .guestModeVmcb02 }
            if v.smm { return .smmNotGuestMode }
        } else {
            if v.current != .vmcb01 { return .l1Vmcb01 }
            if v.nestedRunPending == 1 { return .runPendingGuestMode }
        }
        return nil
    }

    public var explanation: String {
        switch self {
        case .guestModeSvme: return "in guest mode with EFER.SVME clear"
        case .guestModeAllocated: return "in guest mode without nested state allocated"
        case .guestModeVmcb02: return "in guest mode but svm->vmcb is not vmcb02"
        case .l1Vmcb01: return "outside guest mode but svm->vmcb is not vmcb01"
        case .runPendingGuestMode: return "nested_run_pending (trusted) set outside guest mode"
        case .smmNotGuestMode: return "in SMM and in guest mode at once"
        }
    }
}
