// The patch variants of the 2026 EFER.SVME series (reference/patch-thread.md), each a small delta from `merged`.

public enum Variant: String, CaseIterable, Sendable {
    /// Before the series: clearing SVME in L2 silently leaves nested (L1 runs with L2 state).
    case prefix
    /// Jan 30 v1 2/3: SVME toggles are ignored while in guest mode.
    case v1IgnoreInGuest = "v1-ignore-in-guest"
    /// Feb 9 v2 1/2: triple fault whenever SVME is cleared in guest mode.
    case v2SetEfer = "v2-set-efer"
    /// Sean's Feb 26 proposal: triple fault from msr_interception after a guest WRMSR(EFER) leaves guest mode.
    case msrHook = "msr-hook"
    /// kvm-x86 cdc69269b18a: triple fault only when is_guest_mode && wants_to_run.
    case merged

    public static let `default` = Variant.merged

    /// Where the variant comes from upstream.
    public var upstream: String {
        switch self {
        case .prefix: return "kvm-x86 before cdc69269b18a (P2 applied, P1 not)"
        case .v1IgnoreInGuest: return "[PATCH 2/3] KVM: nSVM: Do not track EFER.SVME toggling in guest mode (2026-01-30)"
        case .v2SetEfer: return "[PATCH v2 1/2] KVM: SVM: Triple fault L1 on unintercepted EFER.SVME clear by L2 (2026-02-09)"
        case .msrHook: return "Sean Christopherson's msr_interception() hook (2026-02-26, never merged)"
        case .merged: return "kvm-x86 cdc69269b18a (applied 2026-03-05, in the 7.1 merge)"
        }
    }

    /// What the variant changes relative to `merged`.
    public var summary: String {
        switch self {
        case .prefix: return "svm_set_efer: no triple fault when SVME is cleared in guest mode"
        case .v1IgnoreInGuest: return "svm_set_efer: SVME toggles ignored in guest mode (no leave, no free, no allocate)"
        case .v2SetEfer: return "svm_set_efer: triple fault on any SVME clear in guest mode, ioctls included"
        case .msrHook: return "msr_interception: triple fault when a guest WRMSR(EFER) from L2 ends outside guest mode"
        case .merged: return "svm_set_efer: triple fault when SVME is cleared in guest mode during KVM_RUN"
        }
    }
}
