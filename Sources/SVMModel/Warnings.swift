// KVM's WARN_ON sites (reference §10). The model records a named event where the kernel would splat.

public enum WarnSite: UInt8, CaseIterable, Sendable {
    /// kvm_warn_on_nested_run_pending in nested_svm_vmexit: nested_run_pending == 1.
    case nestedRunPendingOnVmexit
    /// enter_svm_guest_mode: already on vmcb02.
    case enterGuestModeOnVmcb02
    /// nested_vmcb02_recalc_intercepts: not on vmcb02.
    case recalcInterceptsNotVmcb02
    /// svm_free_nested: freeing while not on vmcb01.
    case freeNestedNotVmcb01
    /// nested_svm_vmrun: nested state not initialized although EFER.SVME passed the permission check.
    case vmrunNotInitialized
    /// svm_get_nested_state_pages: the request is serviced outside guest mode.
    case getNestedStatePagesNotGuest
    /// set_efer: svm_set_efer returned a positive value. Never raised: the model's svm_set_efer cannot
    /// fail (Efer.swift); the site stays so that its name keeps parsing in programs and known issues.
    case setEferPositive
    /// kvm_vcpu_reset: RESET with nonzero CR0/CR3/CR4.
    case resetNonzeroCrs
    /// kvm_vcpu_reset: still in guest mode or SMM after kvm_leave_nested.
    case resetInGuestOrSmm
    /// svm_inject_irq: BUG_ON(!gif) (only without noBugOnIrqWithoutGif, f17c31c48e5c).
    case injectIrqWithoutGif

    public var name: String {
        switch self {
        case .nestedRunPendingOnVmexit: return "nested_svm_vmexit:nested_run_pending"
        case .enterGuestModeOnVmcb02: return "enter_svm_guest_mode:vmcb02"
        case .recalcInterceptsNotVmcb02: return "nested_vmcb02_recalc_intercepts:not-vmcb02"
        case .freeNestedNotVmcb01: return "svm_free_nested:not-vmcb01"
        case .vmrunNotInitialized: return "nested_svm_vmrun:not-initialized"
        case .getNestedStatePagesNotGuest: return "svm_get_nested_state_pages:not-guest-mode"
        case .setEferPositive: return "set_efer:positive-return"
        case .resetNonzeroCrs: return "kvm_vcpu_reset:reset-nonzero-crs"
        case .resetInGuestOrSmm: return "kvm_vcpu_reset:guest-mode-or-smm"
        case .injectIrqWithoutGif: return "svm_inject_irq:gif-clear"
        }
    }
}

public struct WarnSet: Hashable, Sendable {
    public private(set) var bits: UInt32 = 0
    public init() {}
    @inline(__always) public mutating func insert(_ s: WarnSite) { bits |= 1 << UInt32(s.rawValue) }
    @inline(__always) public func contains(_ s: WarnSite) -> Bool { bits & (1 << UInt32(s.rawValue)) != 0 }
    public var isEmpty: Bool { bits == 0 }
    /// The sites in this set and not in `other`.
    @inline(__always) public func subtracting(_ other: WarnSet) -> WarnSet {
        var s = WarnSet()
        s.bits = bits & ~other.bits
        return s
    }
    public var sites: [WarnSite] { WarnSite.allCases.filter { contains($0) } }
}
