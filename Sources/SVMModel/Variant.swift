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

    // The bug zoo (reference/bug-zoo.md): each re-introduces one fixed nSVM bug on top of `merged`.
    case zooB01 = "zoo-B01"
    case zooB03 = "zoo-B03"
    case zooB04 = "zoo-B04"
    case zooB05 = "zoo-B05"
    case zooB08 = "zoo-B08"
    case zooB10 = "zoo-B10"
    case zooB11 = "zoo-B11"
    case zooB13 = "zoo-B13"
    case zooB15 = "zoo-B15"
    case zooB16 = "zoo-B16"
    case zooB18 = "zoo-B18"
    case zooB19 = "zoo-B19"
    case zooB20 = "zoo-B20"
    case zooB23 = "zoo-B23"
    case zooB25 = "zoo-B25"
    case zooB26 = "zoo-B26"
    case zooB28 = "zoo-B28"

    public static let `default` = Variant.merged

    /// Whether the variant belongs to the bug zoo (one historical bug each) rather than the series.
    public var isZoo: Bool { rawValue.hasPrefix("zoo-") }
    /// The variants of the EFER.SVME series, `merged` included: what the model tests compare.
    public static let series: [Variant] = allCases.filter { !$0.isZoo }

    /// Where the variant comes from upstream.
    public var upstream: String {
        switch self {
        case .prefix: return "kvm-x86 before cdc69269b18a (P2 applied, P1 not)"
        case .v1IgnoreInGuest: return "[PATCH 2/3] KVM: nSVM: Do not track EFER.SVME toggling in guest mode (2026-01-30)"
        case .v2SetEfer: return "[PATCH v2 1/2] KVM: SVM: Triple fault L1 on unintercepted EFER.SVME clear by L2 (2026-02-09)"
        case .msrHook: return "Sean Christopherson's msr_interception() hook (2026-02-26, never merged)"
        case .merged: return "kvm-x86 cdc69269b18a (applied 2026-03-05, in the 7.1 merge)"
        case .zooB01: return "before c513f484c558 KVM: nSVM: leave guest mode when clearing EFER.SVME"
        case .zooB03: return "before 8312f1b9dd71 KVM: SVM: Don't set GIF when clearing EFER.SVME + 6f4d3ebc24c6 KVM: SVM: Allow KVM_SET_NESTED_STATE to clear GIF when SVME==0"
        case .zooB04: return "before 3c346c0c60ab KVM: SVM: ensure that EFER.SVME is set when running nested guest or on nested vmexit"
        case .zooB05: return "before a58d9166a756 KVM: SVM: load control fields from VMCB12 before checking them (CVE-2021-29657)"
        case .zooB08: return "before ed129ec9057f KVM: x86: forcibly leave nested mode on vCPU reset (CVE-2022-3344)"
        case .zooB10: return "before a2620f8932fa KVM: SVM: Forcibly leave SMM mode on SHUTDOWN interception"
        case .zooB11: return "before f7e570780efc KVM: x86: Forcibly leave nested virt when SMM state is toggled"
        case .zooB13: return "before 3f6821aa147b KVM: x86: Forcibly leave nested if RSM to L2 hits shutdown"
        case .zooB15: return "before be5fa8737d42 KVM: SVM: check validity of VMCB controls when returning from SMM"
        case .zooB16: return "before fce7e152ffc8 KVM: nSVM: Check the value written to MSR_VM_HSAVE_PA + fb79f566e4c9 KVM: nSVM: Check that VM_HSAVE_PA MSR was set before VMRUN"
        case .zooB18: return "before 1b30e7551767 KVM: nSVM: Triple fault if mapping VMCB12 fails on nested #VMEXIT + 5d291ef0585e KVM: nSVM: Triple fault if restore host CR3 fails on nested #VMEXIT"
        case .zooB19: return "before 01ddcdc55e09 KVM: nSVM: Always inject a #GP if mapping VMCB12 fails on nested VMRUN"
        case .zooB20: return "before 96bd3e76a171 KVM: nSVM: Add missing consistency check for EFER, CR0, CR4, and CS + e0b6f031d64c KVM: nSVM: Drop the non-architectural consistency check for NP_ENABLE"
        case .zooB23: return "before f17c31c48e5c KVM: SVM: Don't BUG if userspace injects an interrupt with GIF=0"
        case .zooB28: return "before 184bd464bdb6 KVM: x86: Check EFER validity on KVM_SET_SREGS*"
        case .zooB25: return "before a0592461f39c KVM: nSVM: Delay stuffing L2's current RIP into NextRIP until vCPU run"
        case .zooB26: return "before 778d8c1b2a6f KVM: nSVM: Sync NextRIP to cached vmcb12 after VMRUN of L2 + 03bee264f8eb KVM: nSVM: Sync interrupt shadow to cached vmcb12 after VMRUN of L2"
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
        case .zooB01: return "svm_set_efer: clearing SVME neither leaves guest mode nor frees the nested state"
        case .zooB03: return "svm_set_efer: clearing SVME sets GIF; svm_set_nested_state: with SVME clear only flags == GIF_SET is accepted"
        case .zooB04: return "nested_vmcb_check_save: vmcb12 (and SET_NESTED_STATE's L1 save area) may have EFER.SVME clear"
        case .zooB05: return "nested_svm_vmrun: vmcb12's controls are checked in guest memory, then read again from it for L2 (a racing write gets through)"
        case .zooB08: return "kvm_vcpu_reset: no kvm_leave_nested when INIT/SHUTDOWN resets a vCPU in guest mode"
        case .zooB10: return "shutdown_interception: the INIT-reset runs while the vCPU is still in SMM"
        case .zooB11: return "KVM_SET_VCPU_EVENTS: toggling SMM does not leave guest mode"
        case .zooB13: return "emulator_leave_smm: a failed RSM into L2 triple-faults without leaving guest mode"
        case .zooB15: return "svm_leave_smm: the re-read vmcb12 is not checked before re-entering L2"
        case .zooB16: return "svm_set_msr: guest WRMSR(VM_HSAVE_PA) accepts any value; nested_svm_vmrun: no #GP with HSAVE_PA=0"
        case .zooB18: return "nested_svm_vmexit: an unmappable vmcb12 injects #GP and bails out in guest mode; an illegal L1 CR3 is ignored"
        case .zooB19: return "nested_svm_vmrun: a vmcb12 that cannot be mapped makes VMRUN a no-op (skipped, no #GP)"
        case .zooB20: return "nested_vmcb_check_save: no CS.L && CS.D check in long mode; nested_svm_vmrun: NP_ENABLE without NPT fails VMRUN"
        case .zooB23: return "svm_inject_irq: BUG_ON(!gif) when re-injecting an IRQ userspace set with GIF=0"
        case .zooB28: return "kvm_is_valid_sregs: EFER is not checked against KVM's supported bits and guest CPUID"
        case .zooB25: return "nested_vmcb02_prepare_control: for L1 without NRIPS, NextRIP is stuffed from a RIP KVM_SET_NESTED_STATE reads out of the stale vmcb02"
        case .zooB26: return "svm_vcpu_run: NextRIP and the interrupt shadow the CPU wrote in vmcb02 are not copied to the cached vmcb12 (KVM_GET_NESTED_STATE)"
        }
    }
}
