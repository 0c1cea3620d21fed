// restore-mismatch: a restore in a migration order gives back exactly the snapshot.
//
// KVM's GET/SET ioctl pairs are documented as save/restore (Documentation/virt/kvm/api.rst); QEMU's
// kvm_arch_put_registers relies on SREGS before NESTED_STATE before REGS. After such a restore whose
// ioctls all succeeded, every GET field, the mode and GIF equal the snapshot's, except a pending
// exception put before KVM_SET_REGS, which __set_regs drops (an injected one stays). The same holds for a
// restore into a fresh vCPU (a migration target).

import SVMModel

enum RestoreMismatch: Invariant {
    static let family = InvariantFamily.restoreMismatch
    static let justification = "KVM api.rst: KVM_SET_* restores what KVM_GET_* saved (in QEMU's ioctl order)"
    static let checkpoint = CheckpointKind.ioctl

    static func check(_ ex: inout Executor) -> CheckFailure? {
        guard case .restore(let slot, let order, let fresh) = ex.now.operation, order.isMigrationOrder,
              let snap = ex.snapshot(slot), !ex.now.record.ioctls.hasFailure else { return nil }
        var expected = snap
        if let e = order.position(of: .events), let r = order.position(of: .regs), e < r,
           expected.events.exception?.injected == false {
            expected.events.exception = nil
        }
        guard let diff = expected.firstDifference(VcpuSnapshot(of: ex.vcpu)) else { return nil }
        return CheckFailure(.restoreMismatch, "after restore (order=\(order)\(fresh ? " into=fresh" : "")): \(diff)")
    }
}
