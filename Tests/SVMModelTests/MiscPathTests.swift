// Remaining paths: the MSRPM merge failing at VMRUN and at GET_NESTED_STATE_PAGES (reference §4.2
// step 11, §4.6, §7.4), and the WARN sites the model records instead of crashing (reference §10).

import XCTest
import SVMModel

final class MsrpmMergeTests: XCTestCase {
    /// An MSRPM base that is a legal GPA (passes nested_vmcb_check_controls) but whose 8 KiB run past
    /// the end of guest RAM, so reading L1's bitmap fails.
    static let msrpmPastRam: UInt64 = Layout.unmapped - 0x1000

    /// VMRUN: the consistency checks pass, enter_svm_guest_mode runs, then nested_svm_merge_msrpm fails:
    /// KVM unwinds with a full #VMEXIT carrying VMEXIT_INVALID.
    func testVmrunMsrpmMergeFailureIsVmexitInvalidThroughVmexit() {
        var v = makeL1()
        prepareVmrun(&v, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .msrProt], msrpm: Self.msrpmPastRam))
        XCTAssertEqual(exec(&v, .vmrun(gpa: Layout.vmcb12)), .entered(.l1))
        XCTAssertEqual(v.lastVmexitCode, SVMExit.err)
        let vmcb12 = v.vmcb12InMemory
        XCTAssertEqual(vmcb12.control.exitCode, SVMExit.err)
        // Unlike the early check failure, this path went through nested_svm_vmexit: L2's state is written.
        XCTAssertEqual(vmcb12.save.rip, L2State.rip)
        XCTAssertEqual(vmcb12.save.cr3, L2State.cr3)
        XCTAssertFalse(v.gif)
        XCTAssertEqual(v.mode, .l1)
        XCTAssertEqual(v.nested.vmcb12Gpa, 0)
        XCTAssertEqual(v.rip, l1RipAfterVmrun)
        XCTAssertEqual(v.cr3, L1State.cr3)
        XCTAssertEqual(v.nestedRunPending, 0)
        XCTAssertFalse(v.warnings.contains(.nestedRunPendingOnVmexit), "nested_run_pending was cleared first")
    }

    /// SET_NESTED_STATE accepts the same control area; the merge then fails in
    /// svm_get_nested_state_pages at the next KVM_RUN: KVM_EXIT_INTERNAL_ERROR, still in guest mode.
    func testGetNestedStatePagesMsrpmFailureIsInternalError() {
        var v = makeL1()
        XCTAssertEqual(v.setMsr(MSR.efer, L1State.efer | EFER.svme), .ok)
        var src = makeL1()
        enterL2(&src)
        var st = src.getNestedState()
        st.control.intercepts.insert(.msrProt)
        st.control.msrpmBasePa = Self.msrpmPastRam
        XCTAssertEqual(v.setNestedState(st), .ok)
        XCTAssertTrue(v.requests.contains(.getNestedStatePages))
        XCTAssertEqual(beginRun(&v), .exit(.internalError))
        XCTAssertEqual(v.mode, .l2)
        XCTAssertFalse(v.requests.contains(.getNestedStatePages))
    }
}

final class WarnTests: XCTestCase {
    /// None of the architectural scenarios splats.
    func testOrdinaryScenariosRecordNoWarning() {
        for variant in Variant.series {
            var v = makeL1(variant)
            enterL2(&v, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .shutdown]))
            XCTAssertEqual(exec(&v, .vmmcall), .entered(.l1))
            XCTAssertEqual(exec(&v, .stgi), .entered(.l1))
            XCTAssertEqual(exec(&v, .vmrun(gpa: Layout.vmcb12)), .entered(.l2))
            XCTAssertEqual(exec(&v, .tripleFault), .entered(.l1))
            XCTAssertTrue(v.warnings.isEmpty, "\(variant): \(v.warnings.sites.map(\.name))")
        }
    }

    /// kvm_vcpu_reset: a RESET (not INIT) of a vCPU with nonzero CR0/CR3/CR4 is only expected at creation.
    func testResetOfRunningVcpuWarns() {
        var v = makeL1()
        v.kvmVcpuReset(initEvent: true)
        XCTAssertTrue(v.warnings.isEmpty)
        var w = makeL1()
        w.kvmVcpuReset(initEvent: false)
        XCTAssertEqual(w.warnings.sites, [.resetNonzeroCrs])
        XCTAssertEqual(WarnSite.resetNonzeroCrs.name, "kvm_vcpu_reset:reset-nonzero-crs")
    }

    /// kvm_vcpu_reset: callers must take the vCPU out of SMM first.
    func testResetInSmmWarns() {
        var v = makeL1()
        XCTAssertEqual(v.setVcpuEvents(smm: true), .ok)
        v.kvmVcpuReset(initEvent: true)
        XCTAssertTrue(v.warnings.contains(.resetInGuestOrSmm))
        XCTAssertEqual(v.mode, .l1)
    }
}
