// spurious-triple-fault: state the VMM puts never raises a triple fault.
//
// A triple fault is a guest event (APM vol. 2, 8.2.9 "Double-Fault Exception" escalating to
// shutdown); KVM_SET_SREGS/REGS/MSRS/NESTED_STATE (and KVM_RUN's sync_regs, which takes their paths)
// only load state, and only KVM_SET_VCPU_EVENTS may make one pending, when asked to
// (KVM_CAP_X86_TRIPLE_FAULT_EVENT). So a stuffing ioctl that raises
// one, or a restore/reset whose ioctls all succeeded and that leaves one pending the restored state
// did not have, is KVM synthesizing a guest event from VMM state (Yosry, 2026-02-26).

import SVMModel

enum SpuriousTripleFault: Invariant {
    static let family = InvariantFamily.spuriousTripleFault
    static let justification = "A triple fault is a guest event; only KVM_SET_VCPU_EVENTS may make one pending, when asked"
    static let checkpoint = CheckpointKind.ioctl

    static func check(_ ex: inout Executor) -> CheckFailure? {
        let r = ex.now.record
        let pending = ex.vcpu.requests.contains(.tripleFault)
        switch ex.now.operation {
        case .setSregs, .setRegs, .setMsrs, .setNestedState:
            guard !ex.now.before.tripleFault, pending, let call = r.ioctls.last else { return nil }
            return CheckFailure(.spuriousTripleFault, "\(call.kind) raised a triple fault")
        case .restore(let slot, let order, let fresh):
            guard let snap = ex.snapshot(slot) else { return nil }
            if let raiser = r.ioctls.firstRaiser {
                return CheckFailure(.spuriousTripleFault, "\(raiser.kind) raised a triple fault during restore (order=\(order))")
            }
            if r.ioctls.hasFailure { return nil }          // a refused restore is reported, not a violation
            // A triple fault already pending survives a restore that does not put VCPU_EVENTS (into the
            // same vCPU: a fresh one has none).
            let inherited = ex.now.before.tripleFault && !order.contains(.events) && !fresh
            guard pending && !snap.events.tripleFault && !inherited else { return nil }
            return CheckFailure(.spuriousTripleFault,
                           "restore (order=\(order)\(fresh ? ", into a fresh vCPU" : "")) left a triple fault pending that the snapshot did not have")
        case .runWith(let req):
            // sync_regs is the same stuffing through the same paths, inside KVM_RUN: wants_to_run is
            // set (unless immediate_exit), but userspace is still the one putting state.
            guard let raiser = r.ioctls.firstRaiser else { return nil }
            let ie = req.immediateExit ? " with immediate_exit" : ""
            return CheckFailure(.spuriousTripleFault, "KVM_RUN's sync_regs\(ie) raised a triple fault (through the \(raiser.kind) path)",
                                reason: .syncRegs)
        case .reset:
            if let raiser = r.ioctls.firstRaiser {
                return CheckFailure(.spuriousTripleFault, "\(raiser.kind) raised a triple fault during system reset")
            }
            guard !r.ioctls.hasFailure, pending else { return nil }
            return CheckFailure(.spuriousTripleFault, "system reset left a triple fault pending")
        default:
            return nil
        }
    }
}
