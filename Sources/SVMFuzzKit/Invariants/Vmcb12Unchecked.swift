// vmcb12-unchecked (bug zoo INV-CC / INV-ICPT): L2 only ever runs under vmcb12 controls that pass
// VMRUN's consistency checks.
//
// APM vol. 2, 15.5.1 "Basic Operation": VMRUN fails with #VMEXIT(INVALID) when the VMRUN intercept
// bit is clear or the ASID is zero. KVM applies the same checks on every way into L2 (VMRUN,
// KVM_SET_NESTED_STATE, RSM back into L2: nested_svm_check_cached_vmcb12), so while the vCPU is in
// guest mode the cached controls (svm->nested.ctl) intercept VMRUN and carry a nonzero ASID.

import SVMModel

enum Vmcb12Unchecked: Invariant {
    static let family = InvariantFamily.vmcb12Unchecked
    static let justification = "APM vol. 2, 15.5.1: VMRUN refuses a vmcb12 without the VMRUN intercept or with ASID 0; KVM checks every way into L2"
    static let checkpoint = CheckpointKind.step

    static func check(_ ex: inout Executor) -> CheckFailure? {
        check(ex.vcpu).map { CheckFailure(.vmcb12Unchecked, $0) }
    }

    /// Inlined: called on the executor's vCPU after every step, an out-of-line call copies it first.
    @inline(__always) static func check(_ v: Vcpu) -> String? {
        guard v.guestMode else { return nil }
        if !v.nested.ctl.intercepts.contains(.vmrun) { return "in guest mode with a vmcb12 that does not intercept VMRUN" }
        if v.nested.ctl.asid == 0 { return "in guest mode with a vmcb12 ASID of 0" }
        return nil
    }
}
