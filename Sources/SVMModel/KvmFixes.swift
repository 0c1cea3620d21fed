// The upstream nSVM fixes the model knows, one flag each: what the fix makes KVM do. A fix that is
// absent brings back the historical bug (reference/bug-zoo.md, entry in brackets). The EFER.SVME
// series is not here: it is one policy with several outcomes (SvmeClearPolicy.swift). After them, the
// core behaviours: what every modeled KVM does, flags only so that a test can take one away and show
// that an invariant notices the deliberately broken core (end of this file).
//
// Membership in the long-term stable kernels of Debian 12 (linux-6.1 = 6.1.192, linux-6.12 = 6.12.117).
// Evidence: the fix's upstream release, then the stable@ mails in the public list archives ("[PATCH 6.x
// nnn/mmm]" review mails = applied; "FAILED: patch ... failed to apply to 6.x-stable tree" = not applied
// unless a later manual backport turns up). "uncertain" = no direct evidence for that line, the more
// likely answer is taken; a later issue confirms on the real kernels under QEMU/TCG.
//
//   fix                            zoo  upstream      6.1.192          6.12.117         source
//   leaveNestedOnSvmeClear         B01  5.8          yes              yes              mainline before both
//   keepGifOnSvmeClear             B03  7.0          no               no               kvm-x86 2026-01, no stable mails
//   allowGifClearWithoutSvme       B03  7.0          no               no               kvm-x86 2026-01, no stable mails
//   requireSvmeInVmcb12Efer        B04  5.12         yes              yes              mainline before both
//   checkCopiedVmcb12Controls      B05  5.12         yes              yes              mainline before both
//   leaveNestedOnReset             B08  6.1          yes              yes              merged in the 6.1 rc cycle
//   leaveNestedOnVcpuFree          B08  6.1          yes              yes              same series (Cc: stable), in 6.1-rc
//   leaveSmmOnShutdown             B10  6.15         yes              yes              FAILED 6.1-stable 2025-05, yet 6.1.192's shutdown_interception
//                                                                                      leaves SMM first (a later backport); 6.12 review 2025-05-12
//   leaveNestedOnSmmToggle         B11  5.17         yes              yes              mainline before both
//   leaveNestedOnRsmFailure        B13  6.12         no (uncertain)   yes              in the 6.12 merge; no stable mails
//   checkCachedVmcb12OnRsm         B15  7.1          no               yes              6.6/6.12/6.18 reviews 2026-05; real 6.1.192 re-enters L2
//                                                                                      with the unchecked vmcb12 (svmfuzz oracle, zoo-B15 program)
//   checkHsavePaValue              B16  5.14         yes              yes              mainline before both
//   requireHsavePaForVmrun         B16  5.14         yes              yes              mainline before both
//   tripleFaultOnVmexitMapFailure  B18  7.1          no               no               FAILED 6.1/6.6/5.15-stable; 6.12.117 source: #GP only
//   tripleFaultOnVmexitCr3Failure  B18  7.1          yes              yes              FAILED 6.1/6.6-stable mails, yet both sources request the triple
//                                                                                      fault when nested_svm_load_cr3 fails in nested_svm_vmexit
//   injectGpOnVmcb12MapFailure     B19  7.1          yes (uncertain)  yes              6.12/6.6/5.15 reviews 2026-05; FAILED only 5.10
//   checkLongModeCsLAndD           B20  7.1          yes              yes (uncertain)  6.1 review 2026-05-30, 6.6, 7.0; no 6.12 mail
//   ignoreNpEnableWithoutNpt       B20  7.1          no               no               FAILED 6.1- and 6.12-stable
//   noBugOnIrqWithoutGif           B23  5.19         yes              yes              mainline before both
//   stuffNextRipAtVcpuRun          B25  7.1          no               no               FAILED 6.12-stable; older line assumed the same
//   syncNextRipToCachedVmcb12      B26  7.1          yes              yes (uncertain)  6.1 review 2026-05-30, 6.6, 5.15, 5.10; no 6.12 mail
//   syncIntShadowToCachedVmcb12    B26  7.1          yes              yes              6.1 and 6.12 reviews 2026-05
//   checkEferOnSetSregs            B28  7.2          no               yes              real 6.1.192 accepts a reserved EFER bit, 6.12.117 refuses
//                                                                                      it (svmfuzz oracle, zoo-B28 program)
//   exitOnVmcb12MapFailure         -    7.1          no               no               kvm-x86 2daf71bfd77d (2026-03), VMRUN and VMLOAD/VMSAVE; real
//                                                                                      6.12.117 and 6.1.192 inject #GP for both (oracle, zoo-B19 and
//                                                                                      upstream-tests/svm-nested-vmcb12-gpa-unmappable)
//   tripleFaultOnVmexitMapFailure  B18  (above)      no               no               real 6.12.117: nested_svm_vmexit injects #GP and stays
//                                                                                      in L2 when vmcb12 cannot be mapped (oracle, zoo-B18)
//   interceptGifInsnsWithoutSvme   -    7.1          no               no               kvm-x86 2026-03, no Cc: stable; confirmed absent
//                                                                                      on real 6.12.117 (svmfuzz oracle, seed 09: STGI with
//                                                                                      SVME clear raises no #UD under vGIF)
//   ignoreLmaWithoutLmeInL2        B30  7.3?         no               yes              kvm-x86 2026-09 (linux-next from next-20260915). Debian's
//                                                                                      6.12.117 source has it in nested_vmcb02_prepare_save (a
//                                                                                      stable backport), 6.1.192's has not; real 6.12.117 enters
//                                                                                      an L2 with vmcb12 EFER 0x1401 as 0x1001, 6.1.192 as 0x1401
//                                                                                      (svmfuzz oracle, oracle-confirm/l2-efer-lma-without-lme*)
//   rejectL1LmaWithoutLme          B30  7.3?         no               no               kvm-x86 2026-09; neither Debian source checks it in
//                                                                                      svm_set_nested_state. No stable mails found for either
//                                                                                      subject (searched 2026-12-02)
//   rejectVnmiWithoutNmiIntercept  -    6.4          no               yes              0977cfac6e76 (nested vNMI, 6.4 merge): real 6.12.117 fails the
//                                                                                      VMRUN with VMEXIT_INVALID, 6.1.192 enters L2 (svmfuzz oracle,
//                                                                                      divergences/vnmi-enable-without-nmi-intercept); 6.1.y's
//                                                                                      "FAILED" mail for a484755ab252 names it a missing dependency
//   disallowLmsleWhenMbz           -    6.19?        no               no               posted 2025-09 without Cc: stable; both Debian sources
//                                                                                      enable LMSLE whenever nested=1; real 6.1.192 accepts
//                                                                                      WRMSR EFER 0x3d01 (svmfuzz oracle, 6.1 campaign)
//   checkEventInj                  -    7.x?         no               no               kvm-x86 (nested_svm_check_event_inj); real 6.12.117 and
//                                                                                      6.1.192 deliver a vmcb12 EVENTINJ exception with vector 9
//                                                                                      (svmfuzz oracle, corpus/coverage/15-vmrun-entry-failures)
//   npfProgressOnStaleRoot         -    ?            no               yes              commit not identified; real 6.1.192 livelocks in an NPF loop
//                                                                                      after a forced leave, 6.12.117 runs on (svmfuzz oracle: the
//                                                                                      6.1 campaigns' largest group, corpus seeds 03 and 13)
//   requestEventOnlyForPendingNmi  -    6.4          no               yes              2cb9317377ca; Debian's 6.1.192 process_nmi raises KVM_REQ_EVENT
//                                                                                      unconditionally, 6.12.117's only with an NMI pending (both
//                                                                                      sources read 2026-12-03; svmfuzz oracle: 6.1's INIT past STGI)
//   interceptVmmcallInL2           -    7.1          no               yes              c36991c6f8d2 + 33d3617a52f9 (kvm-x86 2026-03); in Debian's
//                                                                                      6.12.117 source (vmmcall_interception), not in 6.1.192's
//                                                                                      (recalc_intercepts clears VMMCALL); FAILED 6.6-stable 2026-05
//
// "upstream" is the first mainline release as far as the dates say (2026 kvm-x86 ids: the 7.0/7.1 merge
// windows); the stable answers do not depend on it.

public struct KvmFixes: OptionSet, Hashable, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// [B01] c513f484c558 "KVM: nSVM: leave guest mode when clearing EFER.SVME" (2020-05).
    public static let leaveNestedOnSvmeClear = KvmFixes(rawValue: 1 << 0)
    /// [B03] 8312f1b9dd71 "KVM: SVM: Don't set GIF when clearing EFER.SVME" (2025-11, applied 2026-01).
    public static let keepGifOnSvmeClear = KvmFixes(rawValue: 1 << 1)
    /// [B03] 6f4d3ebc24c6 "KVM: SVM: Allow KVM_SET_NESTED_STATE to clear GIF when SVME==0" (2025-11, applied 2026-01).
    public static let allowGifClearWithoutSvme = KvmFixes(rawValue: 1 << 2)
    /// [B04] 3c346c0c60ab "KVM: SVM: ensure that EFER.SVME is set when running nested guest or on nested
    /// vmexit" (2021-03).
    public static let requireSvmeInVmcb12Efer = KvmFixes(rawValue: 1 << 3)
    /// [B05] a58d9166a756 "KVM: SVM: load control fields from VMCB12 before checking them" (2021-03, CVE-2021-29657).
    public static let checkCopiedVmcb12Controls = KvmFixes(rawValue: 1 << 4)
    /// [B08] ed129ec9057f "KVM: x86: forcibly leave nested mode on vCPU reset" (2022-11, CVE-2022-3344).
    public static let leaveNestedOnReset = KvmFixes(rawValue: 1 << 5)
    /// [B08] 917401f26a6a "KVM: x86: nSVM: leave nested mode on vCPU free" (2022-11): svm_vcpu_free
    /// leaves guest mode before svm_free_nested frees vmcb02.
    public static let leaveNestedOnVcpuFree = KvmFixes(rawValue: 1 << 30)
    /// [B10] a2620f8932fa "KVM: SVM: Forcibly leave SMM mode on SHUTDOWN interception" (2025-04).
    public static let leaveSmmOnShutdown = KvmFixes(rawValue: 1 << 6)
    /// [B11] f7e570780efc "KVM: x86: Forcibly leave nested virt when SMM state is toggled" (2022-01).
    public static let leaveNestedOnSmmToggle = KvmFixes(rawValue: 1 << 7)
    /// [B13] 3f6821aa147b "KVM: x86: Forcibly leave nested if RSM to L2 hits shutdown" (2024-09).
    public static let leaveNestedOnRsmFailure = KvmFixes(rawValue: 1 << 8)
    /// [B15] be5fa8737d42 "KVM: SVM: check validity of VMCB controls when returning from SMM" (2026, stable 2026-05).
    public static let checkCachedVmcb12OnRsm = KvmFixes(rawValue: 1 << 9)
    /// [B16] fce7e152ffc8 "KVM: nSVM: Check the value written to MSR_VM_HSAVE_PA" (2021-06).
    public static let checkHsavePaValue = KvmFixes(rawValue: 1 << 10)
    /// [B16] fb79f566e4c9 "KVM: nSVM: Check that VM_HSAVE_PA MSR was set before VMRUN" (2021-06).
    public static let requireHsavePaForVmrun = KvmFixes(rawValue: 1 << 11)
    /// [B18] 1b30e7551767 "KVM: nSVM: Triple fault if mapping VMCB12 fails on nested #VMEXIT" (2026-03).
    public static let tripleFaultOnVmexitMapFailure = KvmFixes(rawValue: 1 << 12)
    /// [B18] 5d291ef0585e "KVM: nSVM: Triple fault if restore host CR3 fails on nested #VMEXIT" (2026-03).
    public static let tripleFaultOnVmexitCr3Failure = KvmFixes(rawValue: 1 << 13)
    /// [B19] 01ddcdc55e09 "KVM: nSVM: Always inject a #GP if mapping VMCB12 fails on nested VMRUN" (2026-03).
    public static let injectGpOnVmcb12MapFailure = KvmFixes(rawValue: 1 << 14)
    /// [B20] 96bd3e76a171 "KVM: nSVM: Add missing consistency check for EFER, CR0, CR4, and CS" (2026-03).
    public static let checkLongModeCsLAndD = KvmFixes(rawValue: 1 << 15)
    /// [B20] e0b6f031d64c "KVM: nSVM: Drop the non-architectural consistency check for NP_ENABLE" (2026-03).
    public static let ignoreNpEnableWithoutNpt = KvmFixes(rawValue: 1 << 16)
    /// [B23] f17c31c48e5c "KVM: SVM: Don't BUG if userspace injects an interrupt with GIF=0" (2022-05).
    public static let noBugOnIrqWithoutGif = KvmFixes(rawValue: 1 << 17)
    /// [B25] a0592461f39c "KVM: nSVM: Delay stuffing L2's current RIP into NextRIP until vCPU run" (2026-02).
    public static let stuffNextRipAtVcpuRun = KvmFixes(rawValue: 1 << 18)
    /// [B26] 778d8c1b2a6f "KVM: nSVM: Sync NextRIP to cached vmcb12 after VMRUN of L2" (2026-02).
    public static let syncNextRipToCachedVmcb12 = KvmFixes(rawValue: 1 << 19)
    /// [B26] 03bee264f8eb "KVM: nSVM: Sync interrupt shadow to cached vmcb12 after VMRUN of L2" (2026-02).
    public static let syncIntShadowToCachedVmcb12 = KvmFixes(rawValue: 1 << 20)
    /// [B28] 184bd464bdb6 "KVM: x86: Check EFER validity on KVM_SET_SREGS*" (2026-06/07).
    public static let checkEferOnSetSregs = KvmFixes(rawValue: 1 << 21)
    /// 460c7eb2e759 "KVM: SVM: Recalc instructions intercepts when EFER.SVME is toggled" + 69f779f79e0d
    /// "KVM: SVM: Move STGI and CLGI intercept handling" (kvm-x86 2026-03): with EFER.SVME clear, L1's
    /// STGI/CLGI are intercepted (and #UD) even under vGIF, which otherwise lets the CPU run them.
    /// Found missing on the real kernels by the oracle, not from the bug zoo.
    public static let interceptGifInsnsWithoutSvme = KvmFixes(rawValue: 1 << 22)
    /// 2daf71bfd77d "KVM: nSVM: Fail emulation of VMRUN/VMLOAD/VMSAVE if mapping vmcb12 fails"
    /// (kvm-x86, 2026-03): a vmcb12 that VMRUN, VMLOAD or VMSAVE cannot map goes to userspace
    /// (kvm_handle_memory_failure, KVM_EXIT_INTERNAL_ERROR, RIP not advanced, as the
    /// svm_nested_vmcb12_gpa selftest expects) instead of 01ddcdc55e09's #GP. Real 6.12.117 injects
    /// the #GP (svmfuzz oracle, zoo-B19 regression and oracle-confirm/l1-vmload-vmsave).
    public static let exitOnVmcb12MapFailure = KvmFixes(rawValue: 1 << 23)
    /// [B30] 1c4c84a643b7 "KVM: nSVM: Ignore EFER.LMA if EFER.LME=0 when preparing L2 state" (kvm-x86,
    /// 2026-09): nested_vmcb02_prepare_save drops a vmcb12 EFER.LMA that comes without LME (as the CPU's
    /// VMRUN does), so L2 never runs with an EFER that KVM_SET_SREGS refuses. The svmfuzz finding
    /// `unrestorable-l2-efer-lma` (2026-11) predates it in this model's tree. (The commit is not in the
    /// stored kvm-x86 snapshot; modeled from its subject and the backport in Debian's 6.12.117 source.)
    public static let ignoreLmaWithoutLmeInL2 = KvmFixes(rawValue: 1 << 24)
    /// [B30] 5dc500a354cc "KVM: nSVM: Reject KVM_SET_NESTED_STATE if L1 has EFER.LMA=1 && EFER.LME=0"
    /// (kvm-x86, 2026-09): svm_set_nested_state refuses an L1 save area with LMA but no LME, which the
    /// next #VMEXIT would otherwise load into L1. (Not in the stored snapshot nor in either Debian
    /// source: modeled from the subject.)
    public static let rejectL1LmaWithoutLme = KvmFixes(rawValue: 1 << 25)
    /// 0977cfac6e76 "KVM: nSVM: Implement support for nested VNMI" (2023, 6.4): nested_vmcb_check_controls
    /// refuses a vmcb12 with V_NMI_ENABLE and no NMI intercept (VMEXIT_INVALID, as the CPU does), on
    /// VMRUN and KVM_SET_NESTED_STATE alike, whatever the guest's CPUID. Before it the bit was ignored.
    public static let rejectVnmiWithoutNmiIntercept = KvmFixes(rawValue: 1 << 26)
    /// "KVM: SVM: Disallow EFER.LMSLE when not supported by hardware" (Jim Mattson, v2 2025-09-30, Fixes:
    /// eec4b140c924; in kvm-x86, later moved to kvm_setup_efer_caps): svm_hardware_setup enables
    /// EFER.LMSLE for nested guests only on a CPU that does not enumerate EFER_LMSLE_MBZ. Before it KVM
    /// accepted the bit on every host, and on a CPU that must keep it zero the next VMRUN of that vCPU
    /// fails (KVM_EXIT_FAIL_ENTRY). Commit id not in the stored archives. Found by the 6.1 campaign.
    public static let disallowLmsleWhenMbz = KvmFixes(rawValue: 1 << 31)
    /// nested_svm_check_event_inj (kvm-x86; the APM's EVENTINJ consistency checks): VMRUN and
    /// KVM_SET_NESTED_STATE refuse a vmcb12 EVENTINJ of an undefined type, or of the exception type with
    /// the NMI vector or a reserved one (VMEXIT_INVALID). Before it KVM copied EVENTINJ into vmcb02 and
    /// left the check to the CPU (QEMU's TCG refuses only vector 2 and vectors from 31 up).
    public static let checkEventInj = KvmFixes(rawValue: 1 << 32)
    /// After a forced leave (svm_leave_nested switches to vmcb01 without kvm_mmu_reset_context), vmcb01's
    /// nested CR3 still names the root L1 ran on before VMRUN while KVM fixes faults in the root L2 ran
    /// on (the trace in shared/reference/real-kvm-tcg §5.3). With the fix L1 goes on (real 6.12.117,
    /// on L2's CR3 unless KVM_REQ_LOAD_MMU_PGD was pending). Without it an L1 that touches a page only
    /// L2 used (it goes on with L2's RIP, RSP or CR3) takes the same NPF forever and KVM_RUN returns
    /// only on a signal (real 6.1.192: three 20-minute oracle campaigns, 2026-12-02/03). A
    /// KVM_REQ_LOAD_MMU_PGD serviced first, or any MMU reset, ends it. The mainline change that makes
    /// 6.12 go on is not identified; the reference's one-line kvm_mmu_reset_context after the leave
    /// also removes the loop.
    public static let npfProgressOnStaleRoot = KvmFixes(rawValue: 1 << 33)
    /// 2cb9317377ca "KVM: x86: Raise an event request when processing NMIs if an NMI is pending" (2023,
    /// 6.4, the vNMI series): process_nmi raises KVM_REQ_EVENT only with an NMI pending. Before it every
    /// KVM_GET_VCPU_EVENTS (which runs process_nmi) raised it, so a VMM that only reads the vCPU's state
    /// makes the next entry look at events again: an INIT latched past an STGI that the CPU ran under
    /// vGIF is taken there (real 6.1.192 after the oracle runner's per-step reads; 6.12.117 keeps it).
    public static let requestEventOnlyForPendingNmi = KvmFixes(rawValue: 1 << 34)
    /// c36991c6f8d2 "KVM: nSVM: Raise #UD if unhandled VMMCALL isn't intercepted by L1" + 33d3617a52f9
    /// "KVM: nSVM: Always intercept VMMCALL when L2 is active" (kvm-x86, 2026-03): vmcb02 intercepts
    /// VMMCALL and KVM queues #UD for L2 when L1 does not. Before them recalc_intercepts cleared the
    /// intercept, the CPU raised #UD, KVM's #UD handler (vmcb01 intercepts #UD, so it is L0's even when
    /// L1 intercepts it) emulated a hypercall, and the hypercall-patching quirk
    /// (KVM_X86_QUIRK_FIX_HYPERCALL_INSN, on by default) wrote VMMCALL back and re-ran it: the same #UD
    /// forever (real 6.1.192, shared/reference/real-kvm-tcg §5.4).
    public static let interceptVmmcallInL2 = KvmFixes(rawValue: 1 << 35)

    /// Every fix, with its name in .svm programs and on the command line (kebab-case), in bit order.
    public static let named: [(name: String, fix: KvmFixes)] = [
        ("leave-nested-on-svme-clear", .leaveNestedOnSvmeClear),
        ("keep-gif-on-svme-clear", .keepGifOnSvmeClear),
        ("allow-gif-clear-without-svme", .allowGifClearWithoutSvme),
        ("require-svme-in-vmcb12-efer", .requireSvmeInVmcb12Efer),
        ("check-copied-vmcb12-controls", .checkCopiedVmcb12Controls),
        ("leave-nested-on-reset", .leaveNestedOnReset),
        ("leave-smm-on-shutdown", .leaveSmmOnShutdown),
        ("leave-nested-on-smm-toggle", .leaveNestedOnSmmToggle),
        ("leave-nested-on-rsm-failure", .leaveNestedOnRsmFailure),
        ("check-cached-vmcb12-on-rsm", .checkCachedVmcb12OnRsm),
        ("check-hsave-pa-value", .checkHsavePaValue),
        ("require-hsave-pa-for-vmrun", .requireHsavePaForVmrun),
        ("triple-fault-on-vmexit-map-failure", .tripleFaultOnVmexitMapFailure),
        ("triple-fault-on-vmexit-cr3-failure", .tripleFaultOnVmexitCr3Failure),
        ("inject-gp-on-vmcb12-map-failure", .injectGpOnVmcb12MapFailure),
        ("check-long-mode-cs-l-and-d", .checkLongModeCsLAndD),
        ("ignore-np-enable-without-npt", .ignoreNpEnableWithoutNpt),
        ("no-bug-on-irq-without-gif", .noBugOnIrqWithoutGif),
        ("stuff-next-rip-at-vcpu-run", .stuffNextRipAtVcpuRun),
        ("sync-next-rip-to-cached-vmcb12", .syncNextRipToCachedVmcb12),
        ("sync-int-shadow-to-cached-vmcb12", .syncIntShadowToCachedVmcb12),
        ("check-efer-on-set-sregs", .checkEferOnSetSregs),
        ("intercept-gif-insns-without-svme", .interceptGifInsnsWithoutSvme),
        ("exit-on-vmcb12-map-failure", .exitOnVmcb12MapFailure),
        ("ignore-lma-without-lme-in-l2", .ignoreLmaWithoutLmeInL2),
        ("reject-l1-lma-without-lme", .rejectL1LmaWithoutLme),
        ("reject-vnmi-without-nmi-intercept", .rejectVnmiWithoutNmiIntercept),
        ("leave-nested-on-vcpu-free", .leaveNestedOnVcpuFree),
        ("disallow-lmsle-when-mbz", .disallowLmsleWhenMbz),
        ("check-event-inj", .checkEventInj),
        ("npf-progress-on-stale-root", .npfProgressOnStaleRoot),
        ("request-event-only-for-pending-nmi", .requestEventOnlyForPendingNmi),
        ("intercept-vmmcall-in-l2", .interceptVmmcallInL2),
    ]

    /// Every upstream fix the model knows (what `all` means in `fixes=`).
    public static let upstream = KvmFixes(named.map(\.fix))

    /// Every behaviour: today's upstream KVM (the upstream fixes and the core behaviours).
    public static let all = upstream.union(core)

    /// The fix called `name` (kebab-case, as in `named`).
    public init?(name: some StringProtocol) {
        guard let f = Self.named.first(where: { $0.name == name }) else { return nil }
        self = f.fix
    }

    /// The kebab-case names of the fixes in this set, in bit order.
    public var names: [String] { Self.named.filter { contains($0.fix) }.map(\.name) }
}

// Core behaviours: what every modeled KVM does, not a fix any kernel lacks. They are in `all` and so in
// every variant, but unnamed: no .svm program or command line can remove them (`named`, `upstream`),
// and they are internal to SVMModel, so only tests reach them (`@testable import SVMModel`). A test
// removes one to get a deliberately broken core, expressed like a zoo variant (a fix set), and shows
// that an invariant notices (Tests/SVMFuzzKitTests/InvariantTests.swift). Core code asks `has(.x)`
// as for any fix: no other configuration is read on the hot paths. Bits from 48 up, leaving the lower
// ones to upstream fixes.
extension KvmFixes {
    /// nested_svm_vmexit restores L1's RSP from vmcb01 (without: l1-runs-l2-state).
    static let restoreL1RspOnVmexit = KvmFixes(rawValue: 1 << 48)
    /// svm_get_nested_state reports GIF_SET (without: unrestorable-state).
    static let reportGifInNestedState = KvmFixes(rawValue: 1 << 49)
    /// svm_set_nested_state without GUEST_MODE takes GIF from the flags also when it takes the vCPU out
    /// of L2 (without: restore-mismatch).
    static let setGifWhenNestedStateLeavesL2 = KvmFixes(rawValue: 1 << 50)

    /// nested_svm_exit_handled_msr reflects an L2 MSR access only when L1's MSR permission map asks for
    /// it (without: every MSR exit of an L2 whose vmcb12 sets MSR_PROT goes to L1; exit-routing).
    static let readL1MsrPermissionMap = KvmFixes(rawValue: 1 << 51)
    /// L2's triple fault becomes #VMEXIT(SHUTDOWN) only when vmcb12 intercepts SHUTDOWN
    /// (nested_svm_triple_fault, and the SHUTDOWN exit of L2; without: always; exit-routing).
    static let shutdownExitOnlyIfIntercepted = KvmFixes(rawValue: 1 << 52)
    /// nested_svm_check_permissions raises #UD when EFER.SVME is clear (without: only the paging and
    /// CPL checks; svm-insn-outcome).
    static let udForSvmInsnsWithoutSvme = KvmFixes(rawValue: 1 << 53)
    /// While nested_run_pending is set, KVM holds back INIT, SMI and the exceptions L1 intercepts
    /// (kvm_apic_accept_events, svm_check_nested_events, svm_smi_allowed; without: it takes them before
    /// the CPU entered L2; l2-entry-overtaken).
    static let holdEventsWhileRunPending = KvmFixes(rawValue: 1 << 54)

    /// Every core behaviour.
    static let core: KvmFixes = [.restoreL1RspOnVmexit, .reportGifInNestedState, .setGifWhenNestedStateLeavesL2,
                                 .readL1MsrPermissionMap, .shutdownExitOnlyIfIntercepted, .udForSvmInsnsWithoutSvme,
                                 .holdEventsWhileRunPending]
}
