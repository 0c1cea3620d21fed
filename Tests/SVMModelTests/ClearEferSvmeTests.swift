// The scenarios of issue 2 that tell the five variants apart: the upstream selftest
// svm_nested_clear_efer_svme, the userspace restore case from the thread, and vCPU reset in L2.

import XCTest
import SVMModel

final class ClearEferSvmeTests: XCTestCase {
    /// L2's WRMSR that clears EFER.SVME (L2 asserted SVME was set first).
    static let clearSvme = GuestInstruction.wrmsr(msr: MSR.efer, value: L2State.efer & ~EFER.svme)

    // MARK: svm_nested_clear_efer_svme (reference/patch-thread.md §4)

    /// Runs the selftest: L1 prologue and VMRUN, then L2 clears SVME and would go on with VMMCALLs.
    private func runSelftest(_ variant: Variant, hostNrips: Bool = true) -> (Vcpu, executed: Int, last: Step) {
        var v = makeL1(variant, hostNrips: hostNrips)
        enterL2(&v)
        XCTAssertNotEqual(v.efer & EFER.svme, 0, "L2 sees EFER.SVME set")
        let r = execAll(&v, [Self.clearSvme, .vmmcall, .vmmcall])
        return (v, r.executed, r.last)
    }

    /// merged, v2-set-efer and msr-hook shut L1 down: the run exits with KVM_EXIT_SHUTDOWN right
    /// after the WRMSR, and no instruction of L1 or L2 executes afterwards.
    func testSelftestShutsDownOnMergedV2AndMsrHook() {
        for variant in [Variant.merged, .v2SetEfer, .msrHook] {
            let (v, executed, last) = runSelftest(variant)
            XCTAssertEqual(last, .exit(.shutdown), "\(variant)")
            XCTAssertEqual(executed, 1, "\(variant): nothing runs after the WRMSR")
            XCTAssertFalse(v.wantsToRun, "\(variant)")
            // The request was consumed by the exit.
            XCTAssertFalse(v.requests.contains(.tripleFault), "\(variant)")
            // svm_leave_nested ran first: no #VMEXIT was written, L1 got no SHUTDOWN exit either.
            XCTAssertEqual(v.mode, .l1, "\(variant)")
            XCTAssertNil(v.lastVmexitCode, "\(variant)")
            XCTAssertEqual(v.vmcb12InMemory.control.exitCode, 0, "\(variant): vmcb12 untouched")
            XCTAssertFalse(v.nested.initialized, "\(variant): nested state freed")
            // The WRMSR was completed on vmcb01 before the request was serviced: with host NRIPS at
            // vmcb01's stale NextRIP, L1's address after its VMRUN (HostFeatureTests has both hosts).
            XCTAssertEqual(v.rip, v.vmcb01.save.rip, "\(variant)")
            XCTAssertTrue(v.warnings.isEmpty, "\(variant): \(v.warnings.sites)")
            let (w, _, _) = runSelftest(variant, hostNrips: false)
            XCTAssertEqual(w.rip, L2State.rip + 2, "\(variant): without NRIPS KVM decodes L2's WRMSR at L2's RIP")
        }
    }

    /// Even when L1 intercepts SHUTDOWN, the triple fault is L1's own: guest mode is already gone
    /// when the request is serviced, so no #VMEXIT(SHUTDOWN) is synthesized.
    func testSelftestShutdownIgnoresL1ShutdownIntercept() {
        for variant in [Variant.merged, .v2SetEfer, .msrHook] {
            var v = makeL1(variant)
            enterL2(&v, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .shutdown]))
            XCTAssertEqual(exec(&v, Self.clearSvme), .exit(.shutdown), "\(variant)")
            XCTAssertNil(v.lastVmexitCode, "\(variant)")
            XCTAssertEqual(v.vmcb12InMemory.control.exitCode, 0, "\(variant)")
        }
    }

    /// prefix: KVM silently leaves nested and L1 continues running with L2's registers (here on a
    /// host without NRIPS, where RIP is L2's too, as real 6.12 under QEMU/TCG shows).
    func testSelftestPrefixRunsL1WithL2State() {
        let (_, executed, last) = runSelftest(.prefix)
        XCTAssertEqual(executed, 3, "L1 keeps executing")
        XCTAssertEqual(last, .entered(.l1))
        // Look at the state right after the WRMSR.
        var v = makeL1(.prefix, hostNrips: false)
        enterL2(&v)
        XCTAssertEqual(exec(&v, Self.clearSvme), .entered(.l1))
        XCTAssertFalse(v.requests.contains(.tripleFault))
        XCTAssertEqual(v.mode, .l1)
        XCTAssertEqual(v.current, .vmcb01)
        XCTAssertTrue(v.gif, "svm_leave_nested sets GIF")
        XCTAssertEqual(v.nested.vmcb12Gpa, GuestPhys.invalidGpa)
        XCTAssertNil(v.lastVmexitCode)
        // L2's values, owned by L2, in L1's context.
        XCTAssertEqual(v.rip, L2State.rip + 2)
        XCTAssertEqual(v.rsp, L2State.rsp)
        XCTAssertEqual(v.rax, L2State.efer & ~EFER.svme)
        XCTAssertEqual(v.cr3, L2State.cr3)
        XCTAssertEqual(v.efer, L2State.efer & ~EFER.svme)
        XCTAssertEqual(v.owners.rip, .l2)
        XCTAssertEqual(v.owners.rsp, .l2)
        XCTAssertEqual(v.owners.rax, .l2)
        XCTAssertEqual(v.owners.cr3, .l2)
        XCTAssertEqual(v.owners.efer, .l2)
        XCTAssertEqual(v.owners.firstL2Owned(current: v.current), "rip")
        // vmcb01's hardware EFER now carries the L2-derived value (with SVME forced).
        XCTAssertEqual(v.vmcb01.save.efer, L2State.efer)
        // And L1 goes on executing: its VMMCALL is handled by L0 in L1 context.
        XCTAssertEqual(exec(&v, .vmmcall), .entered(.l1))
        XCTAssertEqual(v.rip, L2State.rip + 2 + 3)
    }

    /// v1-ignore-in-guest: the toggle is ignored; L2 keeps running in guest mode with EFER.SVME=0.
    func testSelftestV1KeepsL2RunningWithoutSvme() {
        var v = makeL1(.v1IgnoreInGuest)
        enterL2(&v)
        XCTAssertEqual(exec(&v, Self.clearSvme), .entered(.l2))
        XCTAssertEqual(v.mode, .l2)
        XCTAssertEqual(v.efer & EFER.svme, 0)
        XCTAssertEqual(v.efer, L2State.efer & ~EFER.svme)
        XCTAssertTrue(v.nested.initialized)
        XCTAssertEqual(v.current, .vmcb02)
        XCTAssertEqual(v.nested.vmcb12Gpa, Layout.vmcb12)
        XCTAssertFalse(v.requests.contains(.tripleFault))
        XCTAssertEqual(v.rip, L2State.rip + 2)
        // L2's VMMCALL still reaches L1 as a #VMEXIT, and vmcb12 records L2's SVME-less EFER.
        XCTAssertEqual(exec(&v, .vmmcall), .entered(.l1))
        XCTAssertEqual(v.lastVmexitCode, SVMExit.vmmcall)
        XCTAssertEqual(v.vmcb12InMemory.control.exitCode, SVMExit.vmmcall)
        XCTAssertEqual(v.vmcb12InMemory.save.efer, L2State.efer & ~EFER.svme)
        XCTAssertEqual(v.efer, L1State.efer | EFER.svme)
        XCTAssertEqual(v.rip, l1RipAfterVmrun)
    }

    /// The full selftest through execAll, per variant, in one table.
    func testSelftestOutcomeTable() {
        let expected: [Variant: (executed: Int, last: Step)] = [
            .prefix: (3, .entered(.l1)),
            .v1IgnoreInGuest: (3, .entered(.l1)),   // WRMSR, VMMCALL → #VMEXIT, L1's VMMCALL
            .v2SetEfer: (1, .exit(.shutdown)),
            .msrHook: (1, .exit(.shutdown)),
            .merged: (1, .exit(.shutdown)),
        ]
        for variant in Variant.series {
            let (_, executed, last) = runSelftest(variant)
            XCTAssertEqual(executed, expected[variant]!.executed, "\(variant)")
            XCTAssertEqual(last, expected[variant]!.last, "\(variant)")
        }
    }

    // MARK: The restore case (Yosry, Feb 26; reference §7.1)

    /// Userspace restores onto a vCPU that is in L2: SET_SREGS with EFER.SVME=0, then
    /// SET_NESTED_STATE without guest mode, then SET_REGS.
    private func restoreOverL2(_ variant: Variant) -> Vcpu {
        var v = makeL1(variant)
        enterL2(&v)
        endRun(&v)
        var s = v.getSregs()
        s.efer = L1State.efer                                  // SVME clear
        s.cr0 = L1State.cr0; s.cr3 = L1State.cr3; s.cr4 = L1State.cr4
        XCTAssertEqual(v.setSregs(s), .ok, "\(variant)")
        XCTAssertEqual(v.setNestedState(KvmNestedState(flags: NestedFlag.gifSet)), .ok, "\(variant)")
        XCTAssertEqual(v.setRegs(KvmRegs(rip: 0x7000, rsp: 0x7800, rax: 0, rflags: RFLAGS.fixed)), .ok, "\(variant)")
        return v
    }

    func testRestoreV2SetEferHasSpuriousTripleFault() {
        var v = restoreOverL2(.v2SetEfer)
        XCTAssertEqual(v.mode, .l1)
        XCTAssertTrue(v.requests.contains(.tripleFault))
        XCTAssertTrue(v.getVcpuEvents().tripleFault)
        // The restored VM dies on its next KVM_RUN, before any instruction executes.
        XCTAssertEqual(beginRun(&v), .exit(.shutdown))
        XCTAssertEqual(v.rip, 0x7000)
    }

    func testRestoreOtherVariantsHaveNoTripleFault() {
        for variant in Variant.series where variant != .v2SetEfer {
            var v = restoreOverL2(variant)
            XCTAssertEqual(v.mode, .l1, "\(variant)")
            XCTAssertFalse(v.requests.contains(.tripleFault), "\(variant)")
            XCTAssertFalse(v.getVcpuEvents().tripleFault, "\(variant)")
            XCTAssertEqual(v.efer, L1State.efer, "\(variant)")
            XCTAssertTrue(v.gif, "\(variant)")
            // Userspace forced everything: no register is left to L2.
            XCTAssertNil(v.owners.firstL2Owned(current: v.current), "\(variant)")
            XCTAssertEqual(beginRun(&v), .entered(.l1), "\(variant)")
            XCTAssertEqual(exec(&v, .vmmcall), .entered(.l1), "\(variant)")
            XCTAssertEqual(v.rip, 0x7003, "\(variant)")
        }
    }

    // MARK: vCPU reset while in L2 (reference §8.1)

    func testResetInL2NeverTripleFaults() {
        for variant in Variant.series {
            for initEvent in [true, false] {
                var v = makeL1(variant)
                enterL2(&v)
                v.kvmVcpuReset(initEvent: initEvent)
                XCTAssertFalse(v.requests.contains(.tripleFault), "\(variant) init=\(initEvent)")
                XCTAssertEqual(v.mode, .l1, "\(variant) init=\(initEvent)")
                XCTAssertEqual(v.current, .vmcb01, "\(variant) init=\(initEvent)")
                XCTAssertFalse(v.nested.initialized, "\(variant) init=\(initEvent)")
                XCTAssertEqual(v.efer, 0, "\(variant) init=\(initEvent)")
                XCTAssertEqual(v.rip, 0xfff0, "\(variant) init=\(initEvent)")
                XCTAssertTrue(v.gif, "\(variant) init=\(initEvent)")
                XCTAssertEqual(v.nested.vmcb12Gpa, GuestPhys.invalidGpa, "\(variant) init=\(initEvent)")
                XCTAssertEqual(v.nested.hsaveMsr, Layout.hsave, "\(variant): reset keeps HSAVE_PA")
                XCTAssertEqual(reenter(&v), .entered(.l1), "\(variant) init=\(initEvent)")
            }
        }
    }

    func testInitSignalInL2NeverTripleFaults() {
        for variant in Variant.series {
            var v = makeL1(variant)
            enterL2(&v)
            v.raiseInit()
            XCTAssertEqual(reenter(&v), .entered(.l1), "\(variant)")
            XCTAssertFalse(v.requests.contains(.tripleFault), "\(variant)")
            XCTAssertFalse(v.initPending, "\(variant)")
            XCTAssertEqual(v.current, .vmcb01, "\(variant)")
            XCTAssertFalse(v.nested.initialized, "\(variant)")
            XCTAssertEqual(v.rip, 0xfff0, "\(variant)")
            XCTAssertEqual(v.efer, 0, "\(variant)")
            XCTAssertEqual(v.vmcb12InMemory.control.exitCode, 0, "\(variant): no #VMEXIT(INIT)")
            XCTAssertTrue(v.warnings.isEmpty, "\(variant): \(v.warnings.sites)")
        }
    }
}
