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
}
