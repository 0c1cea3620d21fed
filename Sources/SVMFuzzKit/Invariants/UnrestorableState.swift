// unrestorable-state: at a return to userspace, the state can be migrated.
//
// KVM's documentation (Documentation/virt/kvm/api.rst, KVM_GET_NESTED_STATE and the GET/SET pairs)
// promises that what KVM_GET_* returns, put with KVM_SET_* into a new vCPU, resumes the guest. So GET
// everything, PUT it in QEMU's order into a fresh vCPU that has the same guest memory (live
// migration copies RAM): every ioctl succeeds, the GET results are equal, and the next entry does
// the same (NextEntry.swift). Only guest-reachable states are checked (Executor.guestReachable).

import SVMModel

enum UnrestorableState: Invariant {
    static let family = InvariantFamily.unrestorableState
    static let justification = "KVM api.rst: KVM_GET_* then KVM_SET_* into a new vCPU migrates the guest"
    static let checkpoint = CheckpointKind.exit

    static func check(_ ex: inout Executor) -> CheckFailure? {
        if ex.vcpu.vmDead || !ex.guestReachable { return nil }
        guard let memo = ex.migrationMemo else { return migrate(&ex) }
        // A state that migrated cleanly before migrates cleanly again (MigrationMemo.swift).
        let halted = ex.halted
        let (passed, slot) = ex.withVcpuBytes { memo.find($0, halted: halted) }
        if passed { return nil }
        let failure = migrate(&ex)
        if failure == nil { ex.withVcpuBytes { memo.remember($0, halted: halted, slot: slot) } }
        return failure
    }

    /// GET, PUT into a fresh vCPU over the same memory, compare, and compare the next entries.
    private static func migrate(_ ex: inout Executor) -> CheckFailure? {
        // The GETs run on the source vCPU: KVM_GET_VCPU_EVENTS's process_nmi may raise KVM_REQ_EVENT there.
        var vcpu = ex.vcpu
        _ = vcpu.kvmVcpuIoctlX86GetVcpuEvents()
        let snap = VcpuSnapshot(of: vcpu)
        var target = ex.pristine
        target.adoptMemory(of: vcpu)
        if let f = target.put(snap, order: .qemu).failure {
            let rule = f.refusal.map { " (rule \($0))" } ?? ""
            return CheckFailure(.unrestorableState, ex.quiet ? "" :
                           "migrating this state fails: \(f.kind) returns \(f.result)\(rule) (mode \(snap.mode), EFER 0x\(String(snap.sregs.efer, radix: 16)), CR0 0x\(String(snap.sregs.cr0, radix: 16)), nested flags 0x\(String(snap.nested.flags, radix: 16)))",
                           reason: .refused(f.kind, f.refusal))
        }
        if let diff = snap.firstDifference(VcpuSnapshot(of: target)) {
            return CheckFailure(.unrestorableState, "migrating this state changes it: \(diff)")
        }
        // The next entry exists only if the VMM resumes the guest (QEMU stops it after a shutdown or
        // an internal error until a reset or a restore).
        if !ex.halted, let d = NextEntry.firstDifference(original: vcpu, migrated: target, describe: !ex.quiet) {
            return CheckFailure(.unrestorableState, ex.quiet ? "" : "the migrated vCPU's next entry differs: \(d.detail)",
                           reason: .nextEntry(d.field))
        }
        return nil
    }
}
