// l1-runs-l2-state: KVM never enters L1 (or SMM) while a register it tracks still holds L2's value.
//
// APM vol. 2, 15.6 "#VMEXIT": the #VMEXIT reloads the host (here L1) state saved by VMRUN; KVM
// emulates it in nested_svm_vmexit, and every other way out of guest mode (svm_leave_nested from an
// ioctl) hands what L2 left to userspace, which puts its own state. So an entry outside L2 with a
// register owned by L2 runs L1 on L2's values.

import SVMModel

enum L1RunsL2State: Invariant {
    static let family = InvariantFamily.l1RunsL2State
    static let justification = "APM vol. 2, 15.6: #VMEXIT reloads the host state; L1 never runs with L2's registers"
    static let checkpoint = CheckpointKind.entry

    static func check(_ ex: inout Executor) -> CheckFailure? {
        // A VMM that discarded KVM's triple fault chose to run what KVM shut down: not judged.
        let mode = ex.now.entryMode
        guard mode != .l2, !ex.discardedTripleFault,
              let reg = ex.vcpu.owners.firstL2Owned(current: ex.vcpu.current) else { return nil }
        return CheckFailure(.l1RunsL2State, "KVM entered \(mode == .smm ? "SMM" : "L1") while \(reg) (and maybe more) holds L2's value")
    }
}
