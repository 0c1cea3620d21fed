// KVM_RUN's own doors into the vCPU state (issue 14 §1): immediate_exit (wants_to_run false, no
// entry, no pre_run) and sync_regs (the SET ioctls' paths, in REGS, SREGS, EVENTS order, inside
// KVM_RUN with wants_to_run set unless immediate_exit).

import XCTest
import SVMModel

final class KvmRunDoorsTests: XCTestCase {
    /// L2 running, then userspace takes control (KVM_EXIT_INTR) to fill kvm_run.
    private func inL2(_ variant: Variant) -> Vcpu {
        var v = makeL1(variant)
        enterL2(&v)
        endRun(&v)
        return v
    }

    private let sregsWithoutSvme = KvmSregs(efer: L2State.efer & ~EFER.svme, cr0: L2State.cr0, cr2: 0,
                                            cr3: L2State.cr3, cr4: L2State.cr4)

    /// The merged rule (cdc69269b18a) triple-faults only while wants_to_run: a sync_regs SREGS that
    /// clears EFER.SVME in guest mode raises one unless immediate_exit is set; KVM_SET_SREGS never does.
    func testMergedTripleFaultsOnSyncedSvmeClearUnlessImmediateExit() {
        for immediateExit in [false, true] {
            var v = inL2(.merged)
            v.kvmVcpuIoctlRunBegin(immediateExit: immediateExit)
            XCTAssertEqual(v.wantsToRun, !immediateExit)
            let r = v.syncRegs(KvmSyncRegs(sregs: sregsWithoutSvme))
            XCTAssertEqual(r.result, .ok)
            XCTAssertEqual(r.sregs?.raisedTripleFault, !immediateExit, "immediate_exit=\(immediateExit)")
            XCTAssertEqual(v.requests.contains(.tripleFault), !immediateExit)
            XCTAssertEqual(v.mode, .l1, "svm_leave_nested ran either way")
        }
        var v = inL2(.merged)
        XCTAssertEqual(v.setSregs(sregsWithoutSvme), .ok)
        XCTAssertFalse(v.requests.contains(.tripleFault), "KVM_SET_SREGS: wants_to_run is false")
    }

    /// The other policies treat the synced clear as they treat KVM_SET_SREGS.
    func testOtherPoliciesTreatSyncLikeSetSregs() {
        for (variant, tripleFault, mode) in [(Variant.v2SetEfer, true, Mode.l1), (.msrHook, false, .l1),
                                             (.prefix, false, .l1), (.v1IgnoreInGuest, false, .l2)] {
            var v = inL2(variant)
            v.kvmVcpuIoctlRunBegin(immediateExit: false)
            _ = v.syncRegs(KvmSyncRegs(sregs: sregsWithoutSvme))
            XCTAssertEqual(v.requests.contains(.tripleFault), tripleFault, "\(variant)")
            XCTAssertEqual(v.mode, mode, "\(variant)")
        }
    }

    /// A leave forced by the synced state hands L2's leftovers to userspace, as KVM_SET_SREGS does,
    /// although wants_to_run is set (svm_leave_nested alone would leave them L2's).
    func testForcedLeaveBySyncHandsLeftoversToUserspace() {
        var v = inL2(.prefix)
        XCTAssertEqual(v.owners.rip, .l2)
        v.kvmVcpuIoctlRunBegin(immediateExit: false)
        _ = v.syncRegs(KvmSyncRegs(sregs: sregsWithoutSvme))
        XCTAssertEqual(v.mode, .l1)
        XCTAssertNil(v.owners.firstL2Owned(current: v.current), "\(v.owners)")
        // The same through the EVENTS block: toggling SMM forces the vCPU out of L2 (f7e570780efc).
        var w = inL2(.merged)
        w.kvmVcpuIoctlRunBegin(immediateExit: false)
        let r = w.syncRegs(KvmSyncRegs(events: KvmVcpuEventsUpdate(smm: true)))
        XCTAssertEqual(r.events?.result, .ok)
        XCTAssertEqual(w.mode, .smm)
        XCTAssertNil(w.owners.firstL2Owned(current: w.current), "\(w.owners)")
    }

    /// sync_regs applies REGS, then SREGS, then EVENTS, and stops at a refused block: REGS stays
    /// applied, EVENTS is not, and KVM_RUN's result is -EINVAL.
    func testSyncRegsOrderAndStopAtARefusedBlock() {
        var v = makeL1()
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        endRun(&v)
        v.kvmVcpuIoctlRunBegin(immediateExit: false)
        let lmaWithoutLme = KvmSregs(efer: EFER.lma | EFER.nx, cr0: L1State.cr0, cr2: 0, cr3: L1State.cr3, cr4: L1State.cr4)
        let r = v.syncRegs(KvmSyncRegs(regs: KvmRegs(rip: 0x5000, rsp: 0x7000, rax: 1, rflags: RFLAGS.fixed),
                                       sregs: lmaWithoutLme, events: KvmVcpuEventsUpdate(tripleFault: true)))
        XCTAssertEqual(r.result, .einval)
        XCTAssertEqual(r.regs?.result, .ok)
        XCTAssertEqual(r.sregs?.result, .einval)
        XCTAssertEqual(r.sregs?.refusal, .eferLma)
        XCTAssertNil(r.events, "not reached")
        XCTAssertEqual(v.rip, 0x5000, "REGS was applied before SREGS was refused")
        XCTAssertEqual(v.efer, L1State.efer, "a refused SREGS changes nothing")
        XCTAssertFalse(v.requests.contains(.tripleFault))
        v.kvmRunReturnEarly()
        XCTAssertFalse(v.wantsToRun)
    }

    /// A triple fault asked for through the EVENTS block is not one KVM raised.
    func testAskedTripleFaultIsNotRaised() {
        var v = inL2(.merged)
        v.kvmVcpuIoctlRunBegin(immediateExit: true)
        let r = v.syncRegs(KvmSyncRegs(events: KvmVcpuEventsUpdate(tripleFault: true)))
        XCTAssertEqual(r.events?.raisedTripleFault, false)
        XCTAssertTrue(v.requests.contains(.tripleFault))
    }

    /// immediate_exit returns before kvm_x86_vcpu_pre_run: a trusted nested_run_pending (VMRUN emulated,
    /// L2 not entered yet) stays trusted; a run that enters marks it untrusted first.
    func testImmediateExitDoesNotReachPreRun() {
        var v = makeL1()
        prepareVmrun(&v)
        // VMRUN's emulation, then userspace before L2's first entry (a `signal`).
        XCTAssertEqual(v.runGuestInstruction(.vmrun(gpa: Layout.vmcb12)), .resume)
        v.kvmRunEnd(.intr)
        XCTAssertEqual(v.nestedRunPending, 1)
        v.kvmVcpuIoctlRunBegin(immediateExit: true)
        v.kvmRunReturnEarly()
        XCTAssertEqual(v.nestedRunPending, 1)
        XCTAssertEqual(v.mode, .l2)
        v.kvmVcpuIoctlRunBegin(immediateExit: false)
        v.kvmX86VcpuPreRun()
        XCTAssertEqual(v.nestedRunPending, 2)
    }
}
