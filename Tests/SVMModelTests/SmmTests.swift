// SMM with nested SVM (reference §9): SMI in L1 and L2, svm_enter_smm's #VMEXIT(SW),
// RSM back into L2, and svm_leave_smm's SMRAM checks.

import XCTest
import SVMModel

final class SmmTests: XCTestCase {
    func testSmiInL1EntersSmmAndRsmRestoresL1() {
        var v = makeL1()
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        v.raiseSmi()
        XCTAssertEqual(reenter(&v), .entered(.smm))
        XCTAssertFalse(v.smiPending)
        XCTAssertFalse(v.memory.smram.svmGuestFlag)
        XCTAssertEqual(v.memory.smram.efer, L1State.efer)
        XCTAssertEqual(v.memory.smram.rip, L1State.rip)
        XCTAssertEqual(v.rip, 0x8000)
        XCTAssertEqual(v.efer, 0)
        XCTAssertEqual(v.cr0 & (CR0.pe | CR0.pg), 0)
        XCTAssertEqual(exec(&v, .rsm), .entered(.l1))
        XCTAssertFalse(v.smm)
        XCTAssertEqual(v.rip, L1State.rip)
        XCTAssertEqual(v.efer, L1State.efer)
        XCTAssertEqual(v.cr0, L1State.cr0)
        XCTAssertEqual(v.cr3, L1State.cr3)
        XCTAssertEqual(v.cr4, L1State.cr4)
    }

    /// SMI in L2: enter_smm saves L2's state, svm_enter_smm sets the SMRAM SVM fields, synthesizes
    /// #VMEXIT(SW) to L1 and stashes vmcb01.save in the hsave page. vmcb02 survives the EFER=0 of SMM.
    private func smiInL2(_ variant: Variant = .merged, vmcb12: Vmcb = makeVmcb12()) -> Vcpu {
        var v = makeL1(variant)
        enterL2(&v, vmcb12: vmcb12)
        v.raiseSmi()
        XCTAssertEqual(reenter(&v), .entered(.smm), "\(variant)")
        return v
    }

    func testSmiInL2EntersSmmThroughSwVmexit() {
        for variant in Variant.series {
            let v = smiInL2(variant)
            let smram = v.memory.smram
            XCTAssertTrue(smram.svmGuestFlag, "\(variant)")
            XCTAssertEqual(smram.svmGuestVmcbGpa, Layout.vmcb12, "\(variant)")
            XCTAssertEqual(smram.efer, L2State.efer, "\(variant): L2's state at SMI time")
            XCTAssertEqual(smram.rip, L2State.rip, "\(variant)")
            XCTAssertEqual(smram.cr3, L2State.cr3, "\(variant)")
            XCTAssertEqual(v.lastVmexitCode, SVMExit.sw, "\(variant)")
            XCTAssertEqual(v.vmcb12InMemory.control.exitCode, SVMExit.sw, "\(variant)")
            XCTAssertEqual(v.mode, .smm, "\(variant)")
            XCTAssertFalse(v.guestMode, "\(variant)")
            XCTAssertFalse(v.gif, "\(variant)")
            XCTAssertEqual(v.efer, 0, "\(variant)")
            XCTAssertEqual(v.rip, 0x8000, "\(variant)")
            XCTAssertTrue(v.nested.initialized, "\(variant): SMM keeps vmcb02 for RSM")
            XCTAssertFalse(v.requests.contains(.tripleFault), "\(variant)")
            // The hsave page holds L1's state as of the #VMEXIT.
            let hsave = v.readGuestVmcb(Layout.hsave)!.save
            XCTAssertEqual(hsave.rip, l1RipAfterVmrun, "\(variant)")
            XCTAssertEqual(hsave.efer, L1State.efer | EFER.svme, "\(variant)")
            XCTAssertEqual(hsave.cr3, L1State.cr3, "\(variant)")
        }
    }

    /// RSM back into L2: svm_leave_smm re-enters guest mode with nested_run_pending=1; the next entry
    /// clears it. L2 resumes where the SMI hit, and a later #VMEXIT restores L1 from the hsave copy.
    func testRsmReturnsToL2() {
        for variant in Variant.series {
            var v = smiInL2(variant)
            XCTAssertEqual(v.runGuestInstruction(.rsm), .resume, "\(variant)")
            XCTAssertEqual(v.mode, .l2, "\(variant)")
            XCTAssertEqual(v.nestedRunPending, 1, "\(variant)")
            XCTAssertTrue(v.requests.contains(.getNestedStatePages), "\(variant)")
            XCTAssertEqual(v.vcpuEnterGuest(), .entered(.l2), "\(variant)")
            XCTAssertEqual(v.nestedRunPending, 0, "\(variant)")
            XCTAssertFalse(v.requests.contains(.getNestedStatePages), "\(variant)")
            XCTAssertTrue(v.gif, "\(variant)")
            XCTAssertEqual(v.current, .vmcb02, "\(variant)")
            XCTAssertEqual(v.nested.vmcb12Gpa, Layout.vmcb12, "\(variant)")
            XCTAssertEqual(v.rip, L2State.rip, "\(variant)")
            XCTAssertEqual(v.efer, L2State.efer, "\(variant)")
            XCTAssertEqual(v.cr0, L2State.cr0, "\(variant)")
            XCTAssertEqual(v.cr3, L2State.cr3, "\(variant)")
            XCTAssertEqual(v.cr4, L2State.cr4, "\(variant)")
            XCTAssertEqual(v.owners.visible(current: v.current), Array(repeating: .l2, count: 8), "\(variant)")
            XCTAssertEqual(v.vmcb01.save.rip, l1RipAfterVmrun, "\(variant): vmcb01 restored from hsave")
            XCTAssertTrue(v.warnings.isEmpty, "\(variant): \(v.warnings.sites)")

            XCTAssertEqual(exec(&v, .vmmcall), .entered(.l1), "\(variant)")
            XCTAssertEqual(v.rip, l1RipAfterVmrun, "\(variant)")
            XCTAssertEqual(v.efer, L1State.efer | EFER.svme, "\(variant)")
            XCTAssertEqual(v.cr3, L1State.cr3, "\(variant)")
            XCTAssertEqual(v.vmcb12InMemory.control.exitCode, SVMExit.vmmcall, "\(variant)")
        }
    }

    /// svm_leave_smm refuses an SMRAM whose saved EFER lacks SVME: the RSM triple-faults and the run
    /// exits with shutdown, outside guest mode and outside SMM.
    func testRsmWithSmramEferSvmeClearShutsDown() {
        for variant in Variant.series {
            var v = smiInL2(variant, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .shutdown]))
            var smram = v.memory.smram
            smram.efer &= ~EFER.svme
            v.writeSmram(smram)
            XCTAssertEqual(v.runGuestInstruction(.rsm), .resume, "\(variant)")
            XCTAssertTrue(v.requests.contains(.tripleFault), "\(variant)")
            XCTAssertEqual(v.mode, .l1, "\(variant)")
            XCTAssertEqual(reenter(&v), .exit(.shutdown), "\(variant)")
            XCTAssertFalse(v.guestMode, "\(variant)")
            XCTAssertEqual(v.nestedRunPending, 0, "\(variant)")
            XCTAssertEqual(v.lastVmexitCode, nil, "\(variant): no #VMEXIT(SHUTDOWN) to L1")
        }
    }

    func testRsmWithUnmappableVmcb12ShutsDown() {
        var v = smiInL2()
        var smram = v.memory.smram
        smram.svmGuestVmcbGpa = Layout.unmapped
        v.writeSmram(smram)
        XCTAssertEqual(exec(&v, .rsm), .exit(.shutdown))
        XCTAssertFalse(v.guestMode)
    }

    /// svm_leave_smm checks the vmcb12 again: one corrupted during SMM makes the RSM fail.
    func testRsmWithInvalidVmcb12ShutsDown() {
        var v = smiInL2()
        var vmcb12 = v.vmcb12InMemory
        vmcb12.control.asid = 0
        XCTAssertTrue(v.writeGuestVmcb(Layout.vmcb12, vmcb12))
        XCTAssertEqual(exec(&v, .rsm), .exit(.shutdown))
        XCTAssertFalse(v.guestMode)
    }

    /// P6: when loading the SMRAM state fails after svm_leave_smm re-entered L2, KVM leaves nested first:
    /// the shutdown is L1's, with no #VMEXIT(SHUTDOWN) while nested_run_pending=1 and no WARN.
    func testRsmLoadFailureInL2LeavesNestedBeforeShutdown() {
        var v = smiInL2(vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .shutdown]))
        var smram = v.memory.smram
        smram.cr3 = 1 << 60                                    // illegal CR3
        v.writeSmram(smram)
        XCTAssertEqual(v.runGuestInstruction(.rsm), .resume)
        XCTAssertFalse(v.guestMode)
        XCTAssertEqual(v.nestedRunPending, 0)
        XCTAssertEqual(reenter(&v), .exit(.shutdown))
        XCTAssertNil(v.lastVmexitCode)
        XCTAssertFalse(v.warnings.contains(.nestedRunPendingOnVmexit))
    }

    /// svm_enter_smm maps the hsave page after the #VMEXIT; failing to do so kills the VM.
    func testSmiInL2WithUnmappableHsaveKillsVm() {
        var v = makeL1()
        enterL2(&v)
        endRun(&v)
        XCTAssertEqual(v.setMsr(MSR.vmHsavePa, Layout.unmapped), .ok)
        v.raiseSmi()
        XCTAssertEqual(beginRun(&v), .exit(.vmDead))
        XCTAssertTrue(v.vmDead)
        XCTAssertEqual(v.lastVmexitCode, SVMExit.sw, "the #VMEXIT happened before the map failed")
        XCTAssertEqual(v.setRegs(v.getRegs()), .eio)
        XCTAssertEqual(v.setNestedState(KvmNestedState(flags: 0)), .eio)
    }

    /// SMI in L1, SMM code rewrites the saved control registers, then RSM (rsm_enter_protected_mode):
    /// the step the RSM ended with.
    private func rsmFromL1(efer: UInt64 = L1State.efer, cr3: UInt64 = L1State.cr3, cr4: UInt64) -> (Vcpu, Step) {
        var v = makeL1()
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        v.raiseSmi()
        XCTAssertEqual(reenter(&v), .entered(.smm))
        var smram = v.memory.smram
        smram.efer = efer
        smram.cr3 = cr3
        smram.cr4 = cr4
        v.writeSmram(smram)
        let step = exec(&v, .rsm)
        return (v, step)
    }

    /// CR4.PCIDE comes back last, after CR0 turned long mode on, with the PCID re-added to CR3.
    func testRsmRestoresPcideAndPcid() {
        let (v, step) = rsmFromL1(cr3: L1State.cr3 | 5, cr4: CR4.pae | CR4.pcide)
        XCTAssertEqual(step, .entered(.l1))
        XCTAssertEqual(v.cr3, L1State.cr3 | 5)
        XCTAssertEqual(v.cr4, CR4.pae | CR4.pcide)
    }

    /// kvm_set_cr4 refuses PCIDE outside long mode, so an SMRAM image with PCIDE and EFER.LME clear
    /// makes RSM fail: a shutdown (with and without PAE).
    func testRsmWithPcideOutsideLongModeShutsDown() {
        let (_, pae) = rsmFromL1(efer: EFER.sce | EFER.nx, cr4: CR4.pae | CR4.pcide)
        XCTAssertEqual(pae, .exit(.shutdown))
        let (v, step) = rsmFromL1(efer: EFER.sce | EFER.nx, cr4: CR4.pcide)
        XCTAssertEqual(step, .exit(.shutdown))
        XCTAssertFalse(v.smm)
    }

    /// Legacy PAE paging: the CR0 write of rsm_enter_protected_mode loads the PDPTEs (load_pdptrs),
    /// and RSM fails when they cannot be read.
    func testRsmIntoLegacyPaeWithUnreadablePdptesShutsDown() {
        let (_, step) = rsmFromL1(efer: EFER.sce | EFER.nx, cr3: Layout.unmapped, cr4: CR4.pae)
        XCTAssertEqual(step, .exit(.shutdown))
        let (w, ok) = rsmFromL1(efer: EFER.sce | EFER.nx, cr4: CR4.pae)
        XCTAssertEqual(ok, .entered(.l1))
        XCTAssertEqual(w.efer, EFER.sce | EFER.nx)
    }

    /// GIF=0 blocks SMI; STGI delivers it.
    func testSmiBlockedByGif() {
        var v = makeL1()
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        l1SetSvme(&v)
        XCTAssertEqual(exec(&v, .clgi), .entered(.l1))
        v.raiseSmi()
        XCTAssertEqual(reenter(&v), .entered(.l1))
        XCTAssertTrue(v.smiPending)
        XCTAssertEqual(exec(&v, .stgi), .entered(.smm))
        XCTAssertFalse(v.smiPending)
    }

    /// L1 intercepting SMI: #VMEXIT(SMI) to L1 with GIF=0; the SMI stays pending until L1's STGI.
    func testSmiInL2InterceptedByL1() {
        var v = makeL1()
        enterL2(&v, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .smi]))
        v.raiseSmi()
        XCTAssertEqual(reenter(&v), .entered(.l1))
        XCTAssertEqual(v.lastVmexitCode, SVMExit.smi)
        XCTAssertEqual(v.vmcb12InMemory.control.exitCode, SVMExit.smi)
        XCTAssertFalse(v.gif)
        XCTAssertTrue(v.smiPending)
        XCTAssertEqual(exec(&v, .stgi), .entered(.smm))
        XCTAssertFalse(v.memory.smram.svmGuestFlag, "taken in L1")
    }

    /// KVM_SET_VCPU_EVENTS toggling SMM while in L2 forces the vCPU out of guest mode first
    /// (svm_leave_nested: GIF=1, vmcb12 untouched, userspace owns the leftovers). No variant triple-faults.
    func testSetVcpuEventsSmmToggleForcesLeave() {
        for variant in Variant.series {
            var v = makeL1(variant)
            enterL2(&v)
            endRun(&v)
            XCTAssertEqual(v.setVcpuEvents(smm: true), .ok, "\(variant)")
            XCTAssertTrue(v.smm, "\(variant)")
            XCTAssertEqual(v.mode, .smm, "\(variant)")
            XCTAssertFalse(v.guestMode, "\(variant)")
            XCTAssertEqual(v.current, .vmcb01, "\(variant)")
            XCTAssertEqual(v.nested.vmcb12Gpa, GuestPhys.invalidGpa, "\(variant)")
            XCTAssertTrue(v.gif, "\(variant)")
            XCTAssertEqual(v.vmcb12InMemory, makeVmcb12(), "\(variant)")
            XCTAssertEqual(v.efer, L2State.efer, "\(variant): EFER is not restored")
            XCTAssertNil(v.owners.firstL2Owned(current: v.current), "\(variant)")
            XCTAssertFalse(v.requests.contains(.tripleFault), "\(variant)")
            XCTAssertTrue(v.getVcpuEvents().smm, "\(variant)")
        }
    }

    /// Setting the SMM bit to its current value does not leave nested.
    func testSetVcpuEventsWithoutSmmChangeKeepsL2() {
        var v = makeL1()
        enterL2(&v)
        endRun(&v)
        XCTAssertEqual(v.setVcpuEvents(smm: false), .ok)
        XCTAssertEqual(v.mode, .l2)
        XCTAssertEqual(beginRun(&v), .entered(.l2))
    }

    func testSetVcpuEventsLeavingSmm() {
        var v = makeL1()
        XCTAssertEqual(v.setVcpuEvents(smm: true), .ok)
        XCTAssertEqual(v.mode, .smm)
        XCTAssertEqual(v.setVcpuEvents(smm: false), .ok)
        XCTAssertEqual(v.mode, .l1)
        XCTAssertTrue(v.requests.contains(.event))
    }
}
