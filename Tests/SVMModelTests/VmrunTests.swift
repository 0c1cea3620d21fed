// VMRUN (reference §4): each permission and consistency check's failure, and a successful entry.

import XCTest
import SVMModel

final class VmrunTests: XCTestCase {
    /// Asserts L1 got `vector`, did not advance RIP, and stays in L1 with its state untouched.
    private func assertFaulted(_ v: Vcpu, _ step: Step, vector: UInt8, rip: UInt64,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(step, .entered(.l1), file: file, line: line)
        XCTAssertEqual(v.lastInjected, vector, file: file, line: line)
        XCTAssertEqual(v.rip, rip, "a faulting instruction does not retire", file: file, line: line)
        XCTAssertEqual(v.mode, .l1, file: file, line: line)
        XCTAssertNil(v.lastVmexitCode, file: file, line: line)
        XCTAssertEqual(v.vmcb12InMemory.control.exitCode, 0, "vmcb12 untouched", file: file, line: line)
    }

    func testSuccessfulVmrunLoadsL2AndSavesL1() {
        var v = makeL1()
        enterL2(&v)
        XCTAssertEqual(v.efer, L2State.efer)
        XCTAssertEqual(v.cr0, L2State.cr0)
        XCTAssertEqual(v.cr3, L2State.cr3)
        XCTAssertEqual(v.cr4, L2State.cr4)
        XCTAssertEqual(v.rsp, L2State.rsp)
        XCTAssertEqual(v.rax, L2State.rax)
        XCTAssertEqual(v.rflags, L2State.rflags)
        XCTAssertTrue(v.gif)
        XCTAssertEqual(v.current, .vmcb02)
        XCTAssertEqual(v.nested.vmcb12Gpa, Layout.vmcb12)
        XCTAssertEqual(v.nestedRunPending, 0, "cleared by the hardware entry")
        // vmcb01.save holds L1's guest-visible state, RIP already past VMRUN.
        XCTAssertEqual(v.vmcb01.save.rip, l1RipAfterVmrun)
        XCTAssertEqual(v.vmcb01.save.efer, L1State.efer | EFER.svme)
        XCTAssertEqual(v.vmcb01.save.cr0, L1State.cr0)
        XCTAssertEqual(v.vmcb01.save.cr4, L1State.cr4)
        XCTAssertEqual(v.vmcb01.save.cr3, L1State.cr3)
        // vmcb02 intercepts what vmcb12 does, plus what L0 always needs.
        XCTAssertTrue(v.vmcb02.control.intercepts.contains([.vmrun, .vmmcall, .shutdown, .vmload, .vmsave]))
        XCTAssertTrue(v.warnings.isEmpty, "\(v.warnings.sites)")
    }

    func testNestedRunPendingSetByVmrunClearedByEntry() {
        var v = makeL1()
        prepareVmrun(&v)
        XCTAssertEqual(v.runGuestInstruction(.vmrun(gpa: Layout.vmcb12)), .resume)
        XCTAssertEqual(v.mode, .l2)
        XCTAssertEqual(v.nestedRunPending, 1)
        XCTAssertEqual(v.vcpuEnterGuest(), .entered(.l2))
        XCTAssertEqual(v.nestedRunPending, 0)
    }

    func testVmrunWithSvmeClearIsUD() {
        var v = makeL1()
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        XCTAssertTrue(v.writeGuestVmcb(Layout.vmcb12, makeVmcb12()))
        let step = exec(&v, .vmrun(gpa: Layout.vmcb12))
        assertFaulted(v, step, vector: Vector.ud, rip: L1State.rip)
    }

    func testVmrunWithPagingOffIsUD() {
        var v = makeL1()
        XCTAssertEqual(v.setSregs(KvmSregs(efer: EFER.svme, cr0: CR0.pe | CR0.et, cr2: 0, cr3: 0, cr4: 0)), .ok)
        XCTAssertEqual(v.setMsr(MSR.vmHsavePa, Layout.hsave), .ok)
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        XCTAssertTrue(v.writeGuestVmcb(Layout.vmcb12, makeVmcb12()))
        let step = exec(&v, .vmrun(gpa: Layout.vmcb12))
        assertFaulted(v, step, vector: Vector.ud, rip: L1State.rip)
    }

    func testVmrunWithHsaveZeroIsGP() {
        var v = makeL1()
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        l1SetSvme(&v)
        XCTAssertEqual(v.nested.hsaveMsr, 0)
        XCTAssertTrue(v.writeGuestVmcb(Layout.vmcb12, makeVmcb12()))
        let step = exec(&v, .vmrun(gpa: Layout.vmcb12))
        assertFaulted(v, step, vector: Vector.gp, rip: L1State.rip + 2)
    }

    func testVmrunInSmmIsUD() {
        var v = makeL1()
        prepareVmrun(&v)
        endRun(&v)
        // SMM with EFER.SVME and paging still on, so only the SMM check can refuse.
        XCTAssertEqual(v.setVcpuEvents(smm: true), .ok)
        XCTAssertEqual(v.mode, .smm)
        XCTAssertNotEqual(v.efer & EFER.svme, 0)
        XCTAssertEqual(beginRun(&v), .entered(.smm))
        let step = exec(&v, .vmrun(gpa: Layout.vmcb12))
        XCTAssertEqual(step, .entered(.smm))
        XCTAssertEqual(v.lastInjected, Vector.ud)
        XCTAssertEqual(v.rip, L1State.rip + 4)
        XCTAssertFalse(v.guestMode)
        XCTAssertEqual(v.vmcb12InMemory.control.exitCode, 0)
    }

    func testVmrunWithUnalignedRaxIsGP() {
        var v = makeL1()
        prepareVmrun(&v)
        let step = exec(&v, .vmrun(gpa: Layout.vmcb12 + 0x10))
        assertFaulted(v, step, vector: Vector.gp, rip: L1State.rip + 4)
    }

    func testVmrunWithIllegalGpaIsGP() {
        var v = makeL1()
        prepareVmrun(&v)
        let step = exec(&v, .vmrun(gpa: 1 << 50))
        assertFaulted(v, step, vector: Vector.gp, rip: L1State.rip + 4)
    }

    func testVmrunWithUnmappableVmcb12IsInternalError() {
        var v = makeL1()
        prepareVmrun(&v)
        let step = exec(&v, .vmrun(gpa: Layout.unmapped))
        XCTAssertEqual(step, .exit(.internalError))
        XCTAssertEqual(v.rip, L1State.rip + 4, "RIP not advanced")
        XCTAssertEqual(v.mode, .l1)
        XCTAssertNil(v.lastInjected)
        XCTAssertTrue(v.gif)
        XCTAssertEqual(v.nestedRunPending, 0)
    }

    /// zoo-B19 (before 01ddcdc55e09): the map failure skips VMRUN: no exit, no #GP, no #VMEXIT.
    func testVmrunWithUnmappableVmcb12IsANoOpOnZooB19() {
        var v = makeL1(.zooB19)
        prepareVmrun(&v)
        XCTAssertEqual(exec(&v, .vmrun(gpa: Layout.unmapped)), .entered(.l1))
        XCTAssertEqual(v.rip, L1State.rip + 4 + 3, "VMRUN retired")
        XCTAssertNil(v.lastInjected)
        XCTAssertNil(v.lastVmexitCode)
        XCTAssertTrue(v.gif)
    }

    /// Another vCPU clears vmcb12's VMRUN intercept while KVM emulates VMRUN. merged checks and uses
    /// one copy (the write only reaches guest memory); zoo-B05 checks the first read and gives L2 the
    /// second, so L2 runs without the VMRUN intercept and its VMRUN is handled by L0 instead of L1.
    func testRacingVmcb12WriteAfterTheChecks() {
        for variant in [Variant.merged, .zooB05] {
            var v = makeL1(variant)
            prepareVmrun(&v)
            v.raceNextVmrun(vmcb12: makeVmcb12(intercepts: [.vmmcall]))
            XCTAssertEqual(exec(&v, .vmrun(gpa: Layout.vmcb12)), .entered(.l2), "\(variant)")
            XCTAssertNil(v.concurrentVmcb12Write, "consumed")
            XCTAssertEqual(v.vmcb12InMemory.control.intercepts, [.vmmcall], "the write reached guest memory")
            XCTAssertEqual(v.nested.ctl.intercepts.contains(.vmrun), variant == .merged, "\(variant)")
            // L2's VMRUN: reflected to L1 on merged; on zoo-B05 L0 emulates it as a VMRUN of L1's.
            _ = exec(&v, .vmrun(gpa: Layout.vmcb12))
            XCTAssertEqual(v.lastVmexitCode == SVMExit.vmrun, variant == .merged, "\(variant)")
        }
    }

    /// The racing write is armed for the next VMRUN only, even one that faults before reading vmcb12.
    func testRacingVmcb12WriteIsDroppedByTheNextVmrun() {
        var v = makeL1(.zooB05)
        prepareVmrun(&v)
        v.raceNextVmrun(vmcb12: makeVmcb12(intercepts: [.vmmcall]))
        XCTAssertEqual(exec(&v, .vmrun(gpa: Layout.vmcb12 + 0x10)), .entered(.l1))
        XCTAssertEqual(v.lastInjected, Vector.gp)
        XCTAssertNil(v.concurrentVmcb12Write)
        XCTAssertEqual(exec(&v, .vmrun(gpa: Layout.vmcb12)), .entered(.l2))
        XCTAssertTrue(v.nested.ctl.intercepts.contains(.vmrun))
    }

    /// A vmcb12 failing nested_svm_check_cached_vmcb12: VMEXIT_INVALID in vmcb12, GIF=0, L1 resumes
    /// after the VMRUN, guest mode never entered.
    private func assertVmexitInvalid(_ vmcb12: Vmcb, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        var v = makeL1()
        prepareVmrun(&v, vmcb12: vmcb12, file: file, line: line)
        let l1Efer = v.efer
        XCTAssertEqual(exec(&v, .vmrun(gpa: Layout.vmcb12)), .entered(.l1), what, file: file, line: line)
        let written = v.vmcb12InMemory
        XCTAssertEqual(written.control.exitCode, SVMExit.err, what, file: file, line: line)
        XCTAssertEqual(written.control.exitInfo1, 0, what, file: file, line: line)
        XCTAssertEqual(written.control.exitInfo2, 0, what, file: file, line: line)
        XCTAssertEqual(written.control.eventInj, 0, "\(what): EVENTINJ cleared", file: file, line: line)
        XCTAssertEqual(written.save, vmcb12.save, "\(what): only the exit fields are written", file: file, line: line)
        XCTAssertFalse(v.gif, what, file: file, line: line)
        XCTAssertEqual(v.mode, .l1, what, file: file, line: line)
        XCTAssertFalse(v.guestMode, what, file: file, line: line)
        XCTAssertEqual(v.current, .vmcb01, what, file: file, line: line)
        XCTAssertEqual(v.rip, l1RipAfterVmrun, "\(what): VMRUN retired", file: file, line: line)
        XCTAssertEqual(v.efer, l1Efer, what, file: file, line: line)
        XCTAssertNil(v.lastInjected, what, file: file, line: line)
        XCTAssertEqual(v.nestedRunPending, 0, what, file: file, line: line)
        XCTAssertEqual(v.nested.vmcb12Gpa, GuestPhys.invalidGpa, what, file: file, line: line)
    }

    func testVmcb12WithoutVmrunInterceptIsVmexitInvalid() {
        assertVmexitInvalid(makeVmcb12(intercepts: [.vmmcall]), "no VMRUN intercept")
    }

    func testVmcb12WithAsidZeroIsVmexitInvalid() {
        assertVmexitInvalid(makeVmcb12(asid: 0), "ASID 0")
    }

    func testVmcb12WithoutEferSvmeIsVmexitInvalid() {
        var vmcb12 = makeVmcb12()
        vmcb12.save.efer &= ~EFER.svme
        assertVmexitInvalid(vmcb12, "vmcb12 EFER.SVME clear")
    }

    /// nested_vmcb_check_controls (0977cfac6e76): V_NMI_ENABLE needs the NMI intercept, on VMRUN and
    /// KVM_SET_NESTED_STATE alike; 6.1.192 predates the check and enters L2.
    func testVnmiEnableWithoutNmiInterceptIsVmexitInvalid() {
        var vnmi = makeVmcb12()
        vnmi.control.intCtl = IntCtl.vNmiEnable
        assertVmexitInvalid(vnmi, "V_NMI_ENABLE without the NMI intercept")

        var withNmi = makeVmcb12(intercepts: [.vmrun, .vmmcall, .nmi])
        withNmi.control.intCtl = IntCtl.vNmiEnable
        var v = makeL1()
        enterL2(&v, vmcb12: withNmi)

        var old = makeL1(.linux61)
        enterL2(&old, vmcb12: vnmi)

        var w = makeL1()
        enterL2(&w)
        endRun(&w)
        var blob = w.getNestedState()
        blob.control.intCtl = IntCtl.vNmiEnable
        XCTAssertEqual(w.setNestedState(blob), .einval)
        blob.control.intercepts.insert(.nmi)
        XCTAssertEqual(w.setNestedState(blob), .ok)
    }

    /// A VMEXIT_INVALID clears EVENTINJ in vmcb12 (69b721a86d0d): the event was not delivered.
    func testVmexitInvalidClearsEventInj() {
        var vmcb12 = makeVmcb12(asid: 0)
        vmcb12.control.eventInj = EventInj.valid | EventInj.typeIntr | 0x20
        assertVmexitInvalid(vmcb12, "ASID 0 with an EVENTINJ")
    }

    func testVmcb12WithOtherBadSaveStateIsVmexitInvalid() {
        var nwWithoutCd = makeVmcb12()
        nwWithoutCd.save.cr0 |= CR0.nw
        assertVmexitInvalid(nwWithoutCd, "CR0.NW without CD")
        var longModeWithoutPae = makeVmcb12()
        longModeWithoutPae.save.cr4 &= ~CR4.pae
        assertVmexitInvalid(longModeWithoutPae, "LME+PG without PAE")
        var reservedEfer = makeVmcb12()
        reservedEfer.save.efer |= 1 << 20
        assertVmexitInvalid(reservedEfer, "reserved EFER bit")
        var illegalMsrpm = makeVmcb12()
        illegalMsrpm.control.msrpmBasePa = 1 << 50
        assertVmexitInvalid(illegalMsrpm, "illegal MSRPM base")
    }

    /// STGI brings L1 out of the GIF=0 that VMEXIT_INVALID left, and a fixed vmcb12 then runs.
    func testL1RecoversAfterVmexitInvalid() {
        var v = makeL1()
        prepareVmrun(&v, vmcb12: makeVmcb12(asid: 0))
        XCTAssertEqual(exec(&v, .vmrun(gpa: Layout.vmcb12)), .entered(.l1))
        XCTAssertFalse(v.gif)
        XCTAssertEqual(exec(&v, .stgi), .entered(.l1))
        XCTAssertTrue(v.gif)
        XCTAssertTrue(v.writeGuestVmcb(Layout.vmcb12, makeVmcb12()))
        XCTAssertEqual(exec(&v, .vmrun(gpa: Layout.vmcb12)), .entered(.l2))
        XCTAssertEqual(v.rip, L2State.rip)
    }

    /// The #VMEXIT reloads L1's PDPTEs when L1 runs legacy PAE paging (nested_svm_load_cr3 with
    /// reload_pdptrs): PDPTEs that cannot be read shut L1 down (CR3 is left as it was, L2's); before
    /// 5d291ef0585e (zoo-B18) the failure was ignored and L1 ran on L2's CR3.
    func testVmexitToL1InLegacyPaeWithUnreadablePdptesShutsDown() {
        for (variant, shutdown) in [(Variant.merged, true), (.zooB18, false)] {
            var v = makeL1(variant, guestLm: false)
            XCTAssertEqual(v.setSregs(KvmSregs(efer: EFER.sce | EFER.nx, cr0: L1State.cr0, cr2: 0,
                                               cr3: Layout.unmapped, cr4: CR4.pae)), .ok)
            var vmcb12 = makeVmcb12()
            vmcb12.save.efer = EFER.svme | EFER.nx
            enterL2(&v, vmcb12: vmcb12)
            XCTAssertEqual(exec(&v, .vmmcall), shutdown ? .exit(.shutdown) : .entered(.l1), "\(variant)")
            XCTAssertEqual(v.cr3, L2State.cr3, "\(variant): the failed load left CR3 alone")
        }
        // Readable PDPTEs: L1 resumes on its CR3.
        var v = makeL1(guestLm: false)
        var vmcb12 = makeVmcb12()
        vmcb12.save.efer = EFER.svme | EFER.nx
        enterL2(&v, vmcb12: vmcb12)
        XCTAssertEqual(exec(&v, .vmmcall), .entered(.l1))
        XCTAssertEqual(v.cr3, L1State.cr3)
    }

    /// L1 single-stepping its VMRUN (RFLAGS.TF) gets a #DB right after the #VMEXIT that ends L2.
    func testVmexitQueuesDbForAnL1WithTf() {
        var v = makeL1()
        XCTAssertEqual(v.setRegs(KvmRegs(rip: L1State.rip, rsp: L1State.rsp, rax: 0, rflags: RFLAGS.fixed | RFLAGS.tf)), .ok)
        enterL2(&v)
        XCTAssertEqual(v.runGuestInstruction(.vmmcall), .resume)
        XCTAssertEqual(v.mode, .l1)
        XCTAssertEqual(v.exception, KvmException(vector: Vector.db))
        XCTAssertEqual(v.getVcpuEvents().exception, KvmException(vector: Vector.db))

        var w = makeL1()
        enterL2(&w)
        XCTAssertEqual(w.runGuestInstruction(.vmmcall), .resume)
        XCTAssertNil(w.exception)
    }

    /// Without NPT, nested_svm_vmrun itself saves L1's CR3 into vmcb01, and the #VMEXIT restores it.
    func testVmexitRestoresL1Cr3WithAndWithoutNpt() {
        for npt in [true, false] {
            var v = makeL1(npt: npt)
            enterL2(&v)
            XCTAssertEqual(v.cr3, L2State.cr3, "npt=\(npt)")
            XCTAssertEqual(exec(&v, .vmmcall), .entered(.l1), "npt=\(npt)")
            XCTAssertEqual(v.cr3, L1State.cr3, "npt=\(npt)")
            XCTAssertEqual(v.owners.cr3, .l1, "npt=\(npt)")
            XCTAssertFalse(v.requests.contains(.tripleFault), "npt=\(npt)")
        }
    }
}
