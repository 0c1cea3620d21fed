// kvm-livelock: KVM_RUN makes progress. Whatever state the guest reached, or a VMM put with ioctls
// KVM accepted, KVM never re-enters the guest forever on an exit it handles without effect, so that
// KVM_RUN returns only when a signal comes.
//
// KVM_RUN's contract (Documentation/virt/kvm/api.rst): it runs the guest until an exit KVM cannot
// handle itself, then returns with kvm_run->exit_reason saying why. Every exit handler either lets
// the guest advance or returns to userspace; a nested page fault that KVM fixes in another root than
// the one the CPU walks does neither. The model shows such a loop only where a kernel lacks a fix
// (npf-progress-on-stale-root: Debian's 6.1.192 after a forced leave, shared/reference/real-kvm-tcg
// §5.3); the real-KVM runner reports it as `hang` (its timer signal ends KVM_RUN).
//
// Judged when KVM_RUN returns, ahead of unrestorable-state: a migrated vCPU would run on (a fresh
// vCPU has no stale root), which is the loop's symptom, not a second finding.

import SVMModel

enum KvmLivelock: Invariant {
    static let family = InvariantFamily.kvmLivelock
    static let justification = "KVM api.rst: KVM_RUN runs the guest until an exit it cannot handle and returns its reason; an exit handled without effect, forever, is neither"
    static let checkpoint = CheckpointKind.exit

    static func check(_ ex: inout Executor) -> CheckFailure? {
        guard ex.now.record.exit == .hang else { return nil }
        return CheckFailure(.kvmLivelock, ex.quiet ? "" : "KVM_RUN never returned: KVM re-entered \(ex.vcpu.mode) forever on an exit it handled without effect (a signal ended it)")
    }
}
