// Reference §3.3: the emulated #VMEXIT (nested_svm_vmexit) against the forced leave
// (svm_leave_nested), one test per row that the model represents, and register ownership (issue item 3).

import XCTest
import SVMModel

final class LeaveVsVmexitTests: XCTestCase {
    /// L2 → L1 by an architectural #VMEXIT: L2 executes an intercepted VMMCALL.
    private func vmexited() -> Vcpu {
        var v = makeL1()
        enterL2(&v)
        XCTAssertEqual(exec(&v, .vmmcall), .entered(.l1))
        XCTAssertEqual(v.lastVmexitCode, SVMExit.vmmcall)
        return v
    }

    /// L2 → L1 by svm_leave_nested during KVM_RUN (prefix: L2 clears EFER.SVME, L1 does not intercept).
    private func forcedLeaveInRun() -> Vcpu {
        // Without host NRIPS, so that RIP too is L2's (with it, vmcb01's stale NextRIP: HostFeatureTests).
        var v = makeL1(.prefix, hostNrips: false)
        enterL2(&v)
        XCTAssertEqual(exec(&v, .wrmsr(msr: MSR.efer, value: L2State.efer & ~EFER.svme)), .entered(.l1))
        return v
    }

    /// L2 → L1 by svm_leave_nested inside an ioctl: KVM_SET_NESTED_STATE without GUEST_MODE.
    private func forcedLeaveInIoctl(flags: UInt32 = NestedFlag.gifSet) -> Vcpu {
        var v = makeL1()
        enterL2(&v)
        endRun(&v)
        XCTAssertEqual(v.setNestedState(KvmNestedState(flags: flags)), .ok)
        return v
    }

    func testGuestModeAndCurrentVmcbBothGoToL1() {
        for v in [vmexited(), forcedLeaveInRun(), forcedLeaveInIoctl()] {
            XCTAssertFalse(v.guestMode)
            XCTAssertEqual(v.mode, .l1)
            XCTAssertEqual(v.current, .vmcb01)
        }
    }

    func testVmcb12GpaZeroAfterVmexitInvalidAfterLeave() {
        XCTAssertEqual(vmexited().nested.vmcb12Gpa, 0)
        XCTAssertEqual(forcedLeaveInRun().nested.vmcb12Gpa, GuestPhys.invalidGpa)
        XCTAssertEqual(forcedLeaveInIoctl().nested.vmcb12Gpa, GuestPhys.invalidGpa)
    }

    func testGifZeroAfterVmexitOneAfterLeave() {
        XCTAssertFalse(vmexited().gif)
        XCTAssertTrue(forcedLeaveInRun().gif)
        // SET_NESTED_STATE's own svm_set_gif follows the leave: GIF_SET decides.
        XCTAssertTrue(forcedLeaveInIoctl(flags: NestedFlag.gifSet).gif)
        XCTAssertFalse(forcedLeaveInIoctl(flags: 0).gif)
    }

    func testVmcb12WrittenByVmexitUntouchedByLeave() {
        let v = vmexited()
        let vmcb12 = v.vmcb12InMemory
        XCTAssertEqual(vmcb12.control.exitCode, SVMExit.vmmcall)
        XCTAssertEqual(vmcb12.control.exitInfo1, 0)
        // L2's state at the exit.
        XCTAssertEqual(vmcb12.save.rip, L2State.rip)
        XCTAssertEqual(vmcb12.save.rsp, L2State.rsp)
        XCTAssertEqual(vmcb12.save.rax, L2State.rax)
        XCTAssertEqual(vmcb12.save.efer, L2State.efer)
        XCTAssertEqual(vmcb12.save.cr0, L2State.cr0)
        XCTAssertEqual(vmcb12.save.cr3, L2State.cr3)
        XCTAssertEqual(vmcb12.save.cr4, L2State.cr4)
        XCTAssertEqual(vmcb12.save.rflags, L2State.rflags)

        for w in [forcedLeaveInRun(), forcedLeaveInIoctl()] {
            XCTAssertEqual(w.vmcb12InMemory, makeVmcb12(), "vmcb12 exactly as L1 wrote it")
        }
    }

    func testRegistersRestoredByVmexitNotByLeave() {
        let v = vmexited()
        XCTAssertEqual(v.efer, L1State.efer | EFER.svme)
        XCTAssertEqual(v.cr0, L1State.cr0)
        XCTAssertEqual(v.cr3, L1State.cr3)
        XCTAssertEqual(v.cr4, L1State.cr4)
        XCTAssertEqual(v.rip, l1RipAfterVmrun)
        XCTAssertEqual(v.rsp, L1State.rsp)
        XCTAssertEqual(v.rax, Layout.vmcb12, "L1's RAX held the vmcb12 GPA for VMRUN")
        XCTAssertEqual(v.rflags, RFLAGS.fixed)

        let w = forcedLeaveInIoctl()
        XCTAssertEqual(w.efer, L2State.efer)
        XCTAssertEqual(w.cr0, L2State.cr0)
        XCTAssertEqual(w.cr3, L2State.cr3)
        XCTAssertEqual(w.cr4, L2State.cr4)
        XCTAssertEqual(w.rip, L2State.rip)
        XCTAssertEqual(w.rsp, L2State.rsp)
        XCTAssertEqual(w.rax, L2State.rax)
        // RFLAGS lives in the VMCB: after the switch it is vmcb01's, i.e. L1's value saved at VMRUN.
        XCTAssertEqual(w.rflags, RFLAGS.fixed)
    }

    func testOwnersL1AfterVmexit() {
        let v = vmexited()
        XCTAssertEqual(v.owners.visible(current: v.current), Array(repeating: .l1, count: 8))
        XCTAssertNil(v.owners.firstL2Owned(current: v.current))
    }

    func testOwnersStayL2AfterLeaveDuringRun() {
        let v = forcedLeaveInRun()
        XCTAssertEqual(v.owners.rip, .l2)
        XCTAssertEqual(v.owners.rsp, .l2)
        XCTAssertEqual(v.owners.rax, .l2)
        XCTAssertEqual(v.owners.cr0, .l2)
        XCTAssertEqual(v.owners.cr3, .l2)
        XCTAssertEqual(v.owners.cr4, .l2)
        XCTAssertEqual(v.owners.efer, .l2)
        // vmcb01's RFLAGS is the value saved at VMRUN (set by the VMM here), never L2's.
        XCTAssertNotEqual(v.owners.rflags01, .l2)
    }

    func testOwnersBecomeHostAfterLeaveInIoctl() {
        let v = forcedLeaveInIoctl()
        XCTAssertEqual(v.owners.visible(current: v.current).filter { $0 == .l2 }, [])
        XCTAssertEqual(v.owners.rip, .host)
        XCTAssertEqual(v.owners.cr3, .host)
        XCTAssertEqual(v.owners.efer, .host)
    }

    func testOwnersL2WhileInL2AndHostAfterIoctl() {
        var v = makeL1()
        XCTAssertEqual(v.owners.visible(current: v.current), Array(repeating: .host, count: 8))
        enterL2(&v)
        XCTAssertEqual(v.owners.visible(current: v.current), Array(repeating: .l2, count: 8))
        endRun(&v)
        XCTAssertEqual(v.setRegs(v.getRegs()), .ok)
        XCTAssertEqual(v.owners.rip, .host)
        XCTAssertEqual(v.owners.rflags02, .host)
        XCTAssertEqual(v.owners.cr3, .l2, "SET_REGS does not touch CR3")
    }

    /// nested_run_pending: svm_leave_nested zeroes it.
    func testNestedRunPendingZeroedByLeave() {
        // VMRUN emulated, userspace interrupts before the entry: RUN_PENDING is reported, then forced out.
        var v = makeL1()
        prepareVmrun(&v)
        XCTAssertEqual(v.runGuestInstruction(.vmrun(gpa: Layout.vmcb12)), .resume)
        XCTAssertEqual(v.nestedRunPending, 1)
        endRun(&v)
        XCTAssertNotEqual(v.getNestedState().flags & NestedFlag.runPending, 0)
        XCTAssertEqual(v.setNestedState(KvmNestedState(flags: NestedFlag.gifSet)), .ok)
        XCTAssertEqual(v.nestedRunPending, 0)
        XCTAssertEqual(v.mode, .l1)
        XCTAssertTrue(v.warnings.isEmpty)
    }

    /// nested_run_pending: nested_svm_vmexit does not write it and warns only on the trusted value 1;
    /// userspace regaining control turns 1 into UNTRUSTED (2), which a #VMEXIT may meet silently (P4).
    func testVmexitWithUntrustedRunPendingDoesNotWarn() {
        var v = makeL1()
        prepareVmrun(&v, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .shutdown]))
        XCTAssertEqual(v.runGuestInstruction(.vmrun(gpa: Layout.vmcb12)), .resume)
        endRun(&v)
        XCTAssertEqual(v.setVcpuEvents(smm: nil, tripleFault: true), .ok)
        v.kvmRunBegin()
        XCTAssertEqual(v.nestedRunPending, 2)
        XCTAssertEqual(v.vcpuEnterGuest(), .entered(.l1))
        XCTAssertEqual(v.lastVmexitCode, SVMExit.shutdown)
        XCTAssertEqual(v.nestedRunPending, 2, "not written by nested_svm_vmexit")
        XCTAssertFalse(v.warnings.contains(.nestedRunPendingOnVmexit))
    }

    func testVmexitRequestsTlbFlush() {
        var v = makeL1()
        enterL2(&v)
        XCTAssertEqual(v.runGuestInstruction(.vmmcall), .resume)
        XCTAssertTrue(v.requests.contains(.mmuSync))
        XCTAssertTrue(v.requests.contains(.tlbFlushCurrent))
        XCTAssertFalse(v.requests.contains(.getNestedStatePages))
    }
}
