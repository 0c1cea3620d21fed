// The variants: named KVM behaviours the model runs as, each a set of upstream fixes (KvmFixes.swift) and
// an EFER.SVME policy (SvmeClearPolicy.swift), defined in one table (`definition`). The patch variants of
// the 2026 EFER.SVME series (reference/patch-thread.md) differ from `merged` only in the policy, the bug
// zoo (reference/bug-zoo.md) only in the fixes, and the Debian stable kernels in both.

public enum Variant: String, CaseIterable, Sendable {
    case prefix
    case v1IgnoreInGuest = "v1-ignore-in-guest"
    case v2SetEfer = "v2-set-efer"
    case msrHook = "msr-hook"
    case merged

    // The bug zoo: each re-introduces one fixed nSVM bug on top of `merged`.
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
    case zooB30 = "zoo-B30"

    // Debian 12's long-term stable kernels (reference/real-kvm-tcg/README.md).
    case linux61 = "linux-6.1"
    case linux612 = "linux-6.12"

    public static let `default` = Variant.merged

    public enum Kind: String, Sendable {
        /// A version of the EFER.SVME series: every fix, its own policy.
        case series
        /// One historical bug: `merged` without its fix(es).
        case zoo
        /// A released kernel: the fixes it carries, the pre-series policy.
        case kernel
    }

    /// One row of the variant table.
    public struct Definition: Sendable {
        public let kind: Kind
        public let fixes: KvmFixes
        public let svmeClear: SvmeClearPolicy
        /// The variant's number in the byte encoding (ByteCodec.swift). Fixed forever: existing inputs
        /// must keep their meaning. A new variant takes the next unused number.
        public let codecIndex: UInt8
        /// Where the variant comes from upstream.
        public let upstream: String
    }

    private static func series(_ p: SvmeClearPolicy, _ i: UInt8, _ upstream: String) -> Definition {
        Definition(kind: .series, fixes: .all, svmeClear: p, codecIndex: i, upstream: upstream)
    }
    private static func zoo(_ without: KvmFixes, _ i: UInt8, _ upstream: String) -> Definition {
        Definition(kind: .zoo, fixes: KvmFixes.all.subtracting(without), svmeClear: .tripleFaultIfWantsToRun,
                   codecIndex: i, upstream: "before " + upstream)
    }
    private static func kernel(without: KvmFixes, _ i: UInt8, _ upstream: String) -> Definition {
        Definition(kind: .kernel, fixes: KvmFixes.all.subtracting(without), svmeClear: .leaveSilently,
                   codecIndex: i, upstream: upstream)
    }

    /// The variant table.
    public var definition: Definition {
        switch self {
        case .prefix: return Self.series(.leaveSilently, 0, "kvm-x86 before cdc69269b18a (P2 applied, P1 not)")
        case .v1IgnoreInGuest: return Self.series(.ignoreInGuestMode, 1,
            "[PATCH 2/3] KVM: nSVM: Do not track EFER.SVME toggling in guest mode (2026-01-30)")
        case .v2SetEfer: return Self.series(.tripleFaultAlways, 2,
            "[PATCH v2 1/2] KVM: SVM: Triple fault L1 on unintercepted EFER.SVME clear by L2 (2026-02-09)")
        case .msrHook: return Self.series(.tripleFaultFromMsrInterception, 3,
            "Sean Christopherson's msr_interception() hook (2026-02-26, never merged)")
        case .merged: return Self.series(.tripleFaultIfWantsToRun, 4,
            "kvm-x86 as of 2026-11: cdc69269b18a (applied 2026-03-05, in the 7.1 merge) and every fix in KvmFixes")
        case .zooB01: return Self.zoo(.leaveNestedOnSvmeClear, 5,
            "c513f484c558 KVM: nSVM: leave guest mode when clearing EFER.SVME")
        case .zooB03: return Self.zoo([.keepGifOnSvmeClear, .allowGifClearWithoutSvme], 6,
            "8312f1b9dd71 KVM: SVM: Don't set GIF when clearing EFER.SVME + 6f4d3ebc24c6 KVM: SVM: Allow KVM_SET_NESTED_STATE to clear GIF when SVME==0")
        case .zooB04: return Self.zoo(.requireSvmeInVmcb12Efer, 7,
            "3c346c0c60ab KVM: SVM: ensure that EFER.SVME is set when running nested guest or on nested vmexit")
        case .zooB05: return Self.zoo(.checkCopiedVmcb12Controls, 8,
            "a58d9166a756 KVM: SVM: load control fields from VMCB12 before checking them (CVE-2021-29657)")
        case .zooB08: return Self.zoo([.leaveNestedOnReset, .leaveNestedOnVcpuFree], 9,
            "ed129ec9057f KVM: x86: forcibly leave nested mode on vCPU reset (CVE-2022-3344) + 917401f26a6a KVM: x86: nSVM: leave nested mode on vCPU free")
        case .zooB10: return Self.zoo(.leaveSmmOnShutdown, 10,
            "a2620f8932fa KVM: SVM: Forcibly leave SMM mode on SHUTDOWN interception")
        case .zooB11: return Self.zoo(.leaveNestedOnSmmToggle, 11,
            "f7e570780efc KVM: x86: Forcibly leave nested virt when SMM state is toggled")
        case .zooB13: return Self.zoo(.leaveNestedOnRsmFailure, 12,
            "3f6821aa147b KVM: x86: Forcibly leave nested if RSM to L2 hits shutdown")
        case .zooB15: return Self.zoo(.checkCachedVmcb12OnRsm, 13,
            "be5fa8737d42 KVM: SVM: check validity of VMCB controls when returning from SMM")
        case .zooB16: return Self.zoo([.checkHsavePaValue, .requireHsavePaForVmrun], 14,
            "fce7e152ffc8 KVM: nSVM: Check the value written to MSR_VM_HSAVE_PA + fb79f566e4c9 KVM: nSVM: Check that VM_HSAVE_PA MSR was set before VMRUN")
        case .zooB18: return Self.zoo([.tripleFaultOnVmexitMapFailure, .tripleFaultOnVmexitCr3Failure], 15,
            "1b30e7551767 KVM: nSVM: Triple fault if mapping VMCB12 fails on nested #VMEXIT + 5d291ef0585e KVM: nSVM: Triple fault if restore host CR3 fails on nested #VMEXIT")
        case .zooB19: return Self.zoo(.injectGpOnVmcb12MapFailure, 16,
            "01ddcdc55e09 KVM: nSVM: Always inject a #GP if mapping VMCB12 fails on nested VMRUN")
        case .zooB20: return Self.zoo([.checkLongModeCsLAndD, .ignoreNpEnableWithoutNpt], 17,
            "96bd3e76a171 KVM: nSVM: Add missing consistency check for EFER, CR0, CR4, and CS + e0b6f031d64c KVM: nSVM: Drop the non-architectural consistency check for NP_ENABLE")
        case .zooB23: return Self.zoo(.noBugOnIrqWithoutGif, 18,
            "f17c31c48e5c KVM: SVM: Don't BUG if userspace injects an interrupt with GIF=0")
        case .zooB25: return Self.zoo(.stuffNextRipAtVcpuRun, 19,
            "a0592461f39c KVM: nSVM: Delay stuffing L2's current RIP into NextRIP until vCPU run")
        case .zooB26: return Self.zoo([.syncNextRipToCachedVmcb12, .syncIntShadowToCachedVmcb12], 20,
            "778d8c1b2a6f KVM: nSVM: Sync NextRIP to cached vmcb12 after VMRUN of L2 + 03bee264f8eb KVM: nSVM: Sync interrupt shadow to cached vmcb12 after VMRUN of L2")
        case .zooB28: return Self.zoo(.checkEferOnSetSregs, 21,
            "184bd464bdb6 KVM: x86: Check EFER validity on KVM_SET_SREGS*")
        case .zooB30: return Self.zoo([.ignoreLmaWithoutLmeInL2, .rejectL1LmaWithoutLme], 24,
            "1c4c84a643b7 KVM: nSVM: Ignore EFER.LMA if EFER.LME=0 when preparing L2 state + 5dc500a354cc KVM: nSVM: Reject KVM_SET_NESTED_STATE if L1 has EFER.LMA=1 && EFER.LME=0")
        // Membership and its evidence: the table in KvmFixes.swift.
        case .linux61: return Self.kernel(without: [.keepGifOnSvmeClear, .allowGifClearWithoutSvme,
            .leaveNestedOnRsmFailure, .tripleFaultOnVmexitMapFailure, .ignoreNpEnableWithoutNpt, .stuffNextRipAtVcpuRun,
            .interceptGifInsnsWithoutSvme, .exitOnVmcb12MapFailure, .checkCachedVmcb12OnRsm, .checkEferOnSetSregs,
            .ignoreLmaWithoutLmeInL2, .rejectL1LmaWithoutLme, .rejectVnmiWithoutNmiIntercept, .disallowLmsleWhenMbz,
            .checkEventInj, .npfProgressOnStaleRoot, .requestEventOnlyForPendingNmi, .interceptVmmcallInL2], 22,
            "Debian 12 linux-image-6.1.0-57-amd64 (6.1.192-3)")
        case .linux612: return Self.kernel(without: [.keepGifOnSvmeClear, .allowGifClearWithoutSvme,
            .ignoreNpEnableWithoutNpt, .stuffNextRipAtVcpuRun, .interceptGifInsnsWithoutSvme,
            .exitOnVmcb12MapFailure, .tripleFaultOnVmexitMapFailure, .rejectL1LmaWithoutLme, .disallowLmsleWhenMbz,
            .checkEventInj], 23,
            "Debian 12 linux-image-6.12.117+deb12-amd64 (6.12.117-1~deb12u1)")
        }
    }

    public var kind: Kind { definition.kind }
    public var fixes: KvmFixes { definition.fixes }
    public var svmeClear: SvmeClearPolicy { definition.svmeClear }
    public var codecIndex: UInt8 { definition.codecIndex }
    public var upstream: String { definition.upstream }

    /// Whether the variant belongs to the bug zoo (one historical bug each).
    public var isZoo: Bool { kind == .zoo }
    /// The variants of the EFER.SVME series, `merged` included: what the model tests compare.
    public static let series: [Variant] = allCases.filter { $0.kind == .series }

    /// The variant with this byte-codec number.
    public init?(codecIndex: UInt8) {
        guard let v = Self.byCodecIndex[Int(codecIndex)] else { return nil }
        self = v
    }
    private static let byCodecIndex: [Int: Variant] = Dictionary(uniqueKeysWithValues: allCases.map { (Int($0.codecIndex), $0) })
}

extension VcpuConfig {
    /// The configuration of a variant: its fixes and SVME policy, with the given parameters and CPUID.
    public init(variant: Variant, nested: Bool = true, npt: Bool = true, vgif: Bool = true,
                guestSvm: Bool = true, guestLm: Bool = true, guestNrips: Bool = true) {
        self.init(fixes: variant.fixes, svmeClear: variant.svmeClear, nested: nested, npt: npt, vgif: vgif,
                  guestSvm: guestSvm, guestLm: guestLm, guestNrips: guestNrips)
    }
}
