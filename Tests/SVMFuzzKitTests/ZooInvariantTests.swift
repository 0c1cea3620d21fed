import XCTest
import SVMFuzzKit
import SVMModel

/// The invariants added for the bug zoo: each fires on a zoo variant and is quiet on merged.
final class ZooInvariantTests: XCTestCase {
    private func run(_ ops: [SVMFuzzKit.Operation], _ variant: Variant, _ config: ProgramConfig = ProgramConfig()) -> Violation? {
        Runner.run(Program(config: config, operations: ops), config: config.vcpuConfig(variant: variant)).violation
    }

    private func assertFires(_ ops: [SVMFuzzKit.Operation], on variant: Variant, _ id: InvariantID,
                             config: ProgramConfig = ProgramConfig(), file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run(ops, variant, config)?.id, id, "on \(variant)", file: file, line: line)
        let merged = run(ops, .merged, config)
        XCTAssertNil(merged, "on merged: \(String(describing: merged))", file: file, line: line)
    }

    private let svme = SVMFuzzKit.Operation.guest(.wrmsr(msr: MSR.efer, value: Build.svmeEfer))
    private let hsave = SVMFuzzKit.Operation.guest(.wrmsr(msr: MSR.vmHsavePa, value: Build.hsaveGpa))

    func testGifChanged() {
        // CLGI, then L1 clears EFER.SVME: GIF must stay 0.
        assertFires([svme, .guest(.clgi), .guest(.wrmsr(msr: MSR.efer, value: Build.l1Efer))], on: .zooB03, .gifChanged)
    }

    func testVmcb12Unchecked() {
        // SMI in L2; SMM code rewrites vmcb12 without the VMRUN intercept; RSM re-enters L2.
        var bad = DefaultVmcb12.value
        bad.control.intercepts = [.vmmcall]
        assertFires(Build.enterL2() + [.smi, .vmcb(gpa: Build.vmcbGpa, bad), .guest(.rsm)], on: .zooB15, .vmcb12Unchecked)
    }

    func testHsavePaRules() {
        assertFires([svme, .guest(.wrmsr(msr: MSR.vmHsavePa, value: 0x40008))], on: .zooB16, .hsavePaRules)
        // VMRUN with HSAVE_PA never written.
        assertFires([svme, .vmcb(gpa: Build.vmcbGpa, DefaultVmcb12.value), .guest(.vmrun(gpa: Build.vmcbGpa))],
                    on: .zooB16, .hsavePaRules)
    }

    func testInterceptNotReflected() {
        // Restore L2 with a vmcb12 GPA above RAM; L2's VMMCALL then cannot be written back to vmcb12.
        let ops = Build.enterL2() + [.snapshot(.a), .setNestedState(.a, flags: nil, vmcbPa: GuestPhys.ramTop),
                                     .guest(.vmmcall)]
        assertFires(ops, on: .zooB18, .interceptNotReflected)
    }

    func testIoctlAcceptsInvalid() {
        // SET_SREGS with EFER.SVME on a guest without SVM in CPUID.
        assertFires([.setSregs(SregsPatch(efer: Build.svmeEfer))], on: .zooB28, .ioctlAcceptsInvalid,
                    config: ProgramConfig(svm: false))
    }

    func testVmrunOutcome() {
        // A vmcb12 with EFER.SVME clear must fail with #VMEXIT(INVALID) ...
        var noSvme = DefaultVmcb12.value
        noSvme.save.efer &= ~EFER.svme
        assertFires(Build.enterL2(noSvme), on: .zooB04, .vmrunOutcome)
        // ... and so must long mode with CS.L and CS.D.
        var ld = DefaultVmcb12.value
        ld.save.csAttrib = 0x69b
        assertFires(Build.enterL2(ld), on: .zooB20, .vmrunOutcome)
        // NP_ENABLE without NPT is ignored, not a failure.
        var np = DefaultVmcb12.value
        np.control.miscCtl = MiscCtl.enableNp
        assertFires(Build.enterL2(np), on: .zooB20, .vmrunOutcome, config: ProgramConfig(npt: false))
    }

    func testVmrunIsNeverASilentNoOp() {
        // VMRUN of a vmcb12 GPA that is legal but not backed: merged exits to userspace, zoo-B19 skips it.
        let ops = [svme, hsave, SVMFuzzKit.Operation.guest(.vmrun(gpa: GuestPhys.ramTop))]
        assertFires(ops, on: .zooB19, .vmrunOutcome)
    }

    func testRacingVmcb12WriteIsCaughtAsUnchecked() {
        // Another vCPU clears the VMRUN intercept (or zeroes the ASID) between KVM's check and use.
        var noVmrun = DefaultVmcb12.value
        noVmrun.control.intercepts = [.vmmcall]
        assertFires([.racingVmcb(noVmrun)] + Build.enterL2(), on: .zooB05, .vmcb12Unchecked)
        var asid0 = DefaultVmcb12.value
        asid0.control.asid = 0
        assertFires([.racingVmcb(asid0)] + Build.enterL2(), on: .zooB05, .vmcb12Unchecked)
    }

    func testInjectIrqWithGifClearIsAWarnOnlyOnB23() {
        assertFires([svme, .guest(.clgi), .setVcpuEvents(EventsPatch(interrupt: true)), .run],
                    on: .zooB23, .kvmWarn(.injectIrqWithoutGif))
    }

    // unrestorable-state's next-entry half and the restore comparison, on the migration paths the
    // NextRIP / interrupt-shadow fixes concern.

    func testMigratedSoftInterruptReturnsWhereTheOriginalWould() {
        // L1 without NRIPS injects INT 0x80; userspace stops the vCPU before L2 first runs.
        var soft = DefaultVmcb12.value
        soft.control.eventInj = 0x8000_0480
        let ops: [SVMFuzzKit.Operation] = [svme, hsave, .vmcb(gpa: Build.vmcbGpa, soft), .signal,
                                            .guest(.vmrun(gpa: Build.vmcbGpa))]
        assertFires(ops, on: .zooB25, .unrestorableState, config: ProgramConfig(nrips: false))
        let v = run(ops, .zooB25, ProgramConfig(nrips: false))
        XCTAssertEqual(v?.reason, .nextEntry(.event))
        // With NRIPS L1 supplies NextRIP itself: nothing to stuff, so no variant differs.
        XCTAssertNil(run(ops, .zooB25, ProgramConfig(nrips: true)))
    }

    func testMigratedNextRipIsTheOneTheCpuWrote() {
        // L0 handles an L2 instruction (VMMCALL is not intercepted here): the CPU writes NextRIP.
        var noVmmcall = DefaultVmcb12.value
        noVmmcall.control.intercepts.remove(.vmmcall)
        let ops = Build.enterL2(noVmmcall) + [.guest(.vmmcall), .snapshot(.a)]
        assertFires(ops, on: .zooB26, .unrestorableState)
        XCTAssertEqual(run(ops, .zooB26)?.reason, .nextEntry(.nextRip))
    }

    func testRestoredInterruptShadowMatchesTheSnapshot() {
        // L2 starts in an interrupt shadow that has ended by its first exit; KVM_SET_VCPU_EVENTS
        // before KVM_SET_NESTED_STATE then gets the shadow back from the cached vmcb12.
        var shadow = DefaultVmcb12.value
        shadow.control.intState = 1
        shadow.control.intercepts.remove(.vmmcall)
        let eventsFirst = RestoreOrder([.events, .sregs, .nested, .regs, .msrs])!
        let ops = Build.enterL2(shadow) + [.guest(.vmmcall), .snapshot(.a), .restore(.a, eventsFirst)]
        // zoo-B26 also fails the next-entry check (NextRIP) at the snapshot's exit; without NRIPS
        // NextRIP is not reported, which leaves the shadow.
        assertFires(ops, on: .zooB26, .restoreMismatch, config: ProgramConfig(nrips: false))
    }

    func testPendingExceptionSurvivesMigration() {
        // L2's WRMSR of a reserved EFER bit queues #GP, which vmcb12 intercepts; a signal stops the
        // vCPU before the #VMEXIT: the migrated vCPU must still reflect it to L1.
        var gp = DefaultVmcb12.value
        gp.control.intercepts.exceptions |= 1 << 13
        let ops = Build.enterL2(gp) + [.signal, .guest(.wrmsr(msr: MSR.efer, value: 0xa400_0000))]
        for variant in [Variant.merged, .zooB25, .zooB26] { XCTAssertNil(run(ops, variant), "\(variant)") }
    }

    func testNextEntryComparesOnlyTheEventOfThatEntry() throws {
        // L2 got INT 0x80 at its entry, then cleared SVME: a signal leaves userspace in L1 with the
        // triple fault pending. Neither the original's next entry nor the migrated one's delivers anything.
        let p = try SVMText.parse("""
            wrmsr efer 0x1d01
            wrmsr hsave_pa 0x40000
            vmcb 0x10000 intercepts=vmrun,vmmcall asid=1 event_inj=0x80000480
            vmrun 0x10000
            signal
            wrmsr efer 0xd00
            """, file: "t.svm")
        XCTAssertNil(run(p.operations, .merged, p.config))
    }
}
