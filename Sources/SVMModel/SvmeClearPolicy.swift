// What svm_set_efer does when EFER.SVME is cleared while the vCPU is in guest mode: the one decision
// the 2026 EFER.SVME series (reference/patch-thread.md) changed, one case per version of it.

public enum SvmeClearPolicy: String, CaseIterable, Hashable, Sendable {
    /// Before the series: leave nested silently; L1 goes on with L2's registers.
    case leaveSilently = "leave-silently"
    /// v1 2/3 (2026-01-30): SVME toggles are not tracked at all in guest mode.
    case ignoreInGuestMode = "ignore-in-guest-mode"
    /// v2 1/2 (2026-02-09): triple fault on every clear in guest mode, userspace ioctls included.
    case tripleFaultAlways = "triple-fault-always"
    /// Sean Christopherson's proposal (2026-02-26, never merged): msr_interception triple-faults when a
    /// guest WRMSR(EFER) from L2 ends outside guest mode.
    case tripleFaultFromMsrInterception = "triple-fault-from-msr-interception"
    /// kvm-x86 cdc69269b18a (applied 2026-03-05, in the 7.1 merge): triple fault only when the vCPU is in
    /// guest mode and inside KVM_RUN (wants_to_run).
    case tripleFaultIfWantsToRun = "triple-fault-if-wants-to-run"
}
