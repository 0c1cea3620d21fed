// KVM_GET_NESTED_STATE / KVM_SET_NESTED_STATE (reference §7.4) and the QEMU-order save/restore.

import XCTest
import SVMModel

final class NestedStateTests: XCTestCase {
    /// A GUEST_MODE state as GET_NESTED_STATE would return it for the standard L2 scenario.
    private func guestModeState(flags: UInt32 = NestedFlag.guestMode | NestedFlag.gifSet) -> KvmNestedState {
        var v = makeL1()
        enterL2(&v)
        var s = v.getNestedState()
        s.flags = flags
        return s
    }

    /// An L1 vCPU with EFER.SVME set by userspace (what a restore does before SET_NESTED_STATE).
    private func l1WithSvme() -> Vcpu {
        var v = makeL1()
        XCTAssertEqual(v.setMsr(MSR.efer, L1State.efer | EFER.svme), .ok)
        return v
    }

    /// Asserts the ioctl fails with `errno` and changes nothing.
    private func assertRejected(_ v: Vcpu, _ st: KvmNestedState, _ errno: Errno = .einval, _ what: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        var w = v
        XCTAssertEqual(w.setNestedState(st), errno, what, file: file, line: line)
        XCTAssertEqual(w, v, "\(what): no state changed", file: file, line: line)
    }

    // MARK: GET

    func testGetInL1ReportsOnlyGif() {
        var v = makeL1()
        XCTAssertEqual(v.getNestedState(), KvmNestedState(flags: NestedFlag.gifSet))
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        l1SetSvme(&v)
        XCTAssertEqual(exec(&v, .clgi), .entered(.l1))
        XCTAssertEqual(v.getNestedState().flags, 0)
    }

    func testGetInL2ReportsVmcb12AndL1State() {
        var v = makeL1()
        enterL2(&v)
        let s = v.getNestedState()
        XCTAssertEqual(s.flags, NestedFlag.guestMode | NestedFlag.gifSet)
        XCTAssertEqual(s.vmcbPa, Layout.vmcb12)
        XCTAssertTrue(s.hasData)
        XCTAssertEqual(s.control.intercepts, [.vmrun, .vmmcall])
        XCTAssertEqual(s.control.asid, 1)
        XCTAssertEqual(s.save, v.vmcb01.save, "the save area is L1's, not L2's")
        XCTAssertEqual(s.save.rip, l1RipAfterVmrun)
        XCTAssertEqual(s.save.efer, L1State.efer | EFER.svme)
    }

    /// The control area carries vmcb12's exit fields as VMRUN cached them (nested_copy_vmcb_cache_to_control),
    /// not zeros, and KVM_SET_NESTED_STATE caches them back.
    func testGetInL2ReportsTheCachedExitFields() {
        var vmcb12 = makeVmcb12()
        vmcb12.control.exitCode = SVMExit.vmmcall
        vmcb12.control.exitInfo1 = 0x11
        vmcb12.control.exitInfo2 = 0x22
        var v = makeL1()
        enterL2(&v, vmcb12: vmcb12)
        endRun(&v)
        let s = v.getNestedState()
        XCTAssertEqual(s.control.exitCode, SVMExit.vmmcall)
        XCTAssertEqual(s.control.exitInfo1, 0x11)
        XCTAssertEqual(s.control.exitInfo2, 0x22)
        var w = v
        XCTAssertEqual(w.setNestedState(s), .ok)
        XCTAssertEqual(w.getNestedState().control, s.control)
    }

    // MARK: SET checks, in order

    func testSvmeClearWithGuestModeIsEinval() {
        let v = makeL1()
        XCTAssertEqual(v.efer & EFER.svme, 0)
        assertRejected(v, guestModeState(), .einval, "SVME=0 with GUEST_MODE")
    }

    func testSmmWithGuestModeIsEinval() {
        var v = l1WithSvme()
        XCTAssertEqual(v.setVcpuEvents(smm: true), .ok)
        assertRejected(v, guestModeState(), .einval, "SMM with GUEST_MODE")
    }

    func testBadVmcbPaIsEinval() {
        let v = l1WithSvme()
        for pa in [Layout.vmcb12 + 8, 1 << 50] {
            var st = guestModeState()
            st.vmcbPa = pa
            assertRejected(v, st, .einval, "vmcb_pa \(pa)")
        }
    }

    func testRunPendingWithoutGuestModeIsEinval() {
        for svme in [false, true] {
            let v = svme ? l1WithSvme() : makeL1()
            assertRejected(v, KvmNestedState(flags: NestedFlag.runPending), .einval, "RUN_PENDING alone, svme=\(svme)")
            assertRejected(v, KvmNestedState(flags: NestedFlag.runPending | NestedFlag.gifSet), .einval,
                           "RUN_PENDING|GIF_SET, svme=\(svme)")
        }
    }

    func testUnknownOrVmxFlagsAreEinval() {
        let v = l1WithSvme()
        assertRejected(v, KvmNestedState(flags: 0x200), .einval, "unknown flag")
        assertRejected(v, KvmNestedState(flags: NestedFlag.evmcs), .einval, "EVMCS on SVM")
        assertRejected(v, KvmNestedState(flags: NestedFlag.mtfPending), .einval, "MTF_PENDING on SVM")
    }

    func testMissingDataIsEinval() {
        var st = guestModeState()
        st.hasData = false
        assertRejected(l1WithSvme(), st, .einval, "size without the 4 KiB data")
    }

    func testBadControlOrL1SaveIsEinval() {
        let v = l1WithSvme()
        var noVmrun = guestModeState()
        noVmrun.control.intercepts = [.vmmcall]
        assertRejected(v, noVmrun, .einval, "control without VMRUN intercept")
        var asid0 = guestModeState()
        asid0.control.asid = 0
        assertRejected(v, asid0, .einval, "ASID 0")
        var l1NoSvme = guestModeState()
        l1NoSvme.save.efer &= ~EFER.svme
        assertRejected(v, l1NoSvme, .einval, "L1 EFER without SVME")
        var l1NoPaging = guestModeState()
        l1NoPaging.save.cr0 &= ~CR0.pg
        assertRejected(v, l1NoPaging, .einval, "L1 without paging")
        var l1V86 = guestModeState()
        l1V86.save.rflags |= RFLAGS.vm
        assertRejected(v, l1V86, .einval, "L1 RFLAGS.VM")
    }

    func testNestedDisabledIsEinval() {
        let v = makeL1(nested: false)
        assertRejected(v, KvmNestedState(flags: NestedFlag.gifSet), .einval, "kvm_amd.nested=0")
    }

    /// P2: SVME=0 accepts flags 0 as well as GIF_SET, and GIF follows the flag.
    func testSvmeClearAcceptsFlagsZeroAndKeepsGifClear() {
        var v = makeL1()
        XCTAssertTrue(v.gif)
        XCTAssertEqual(v.setNestedState(KvmNestedState(flags: 0)), .ok)
        XCTAssertFalse(v.gif)
        XCTAssertEqual(v.getNestedState().flags, 0)
        XCTAssertEqual(v.mode, .l1)
        // GIF stays clear across a userspace EFER write and a run.
        XCTAssertEqual(v.setSregs(v.getSregs()), .ok)
        XCTAssertFalse(v.gif)
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        XCTAssertFalse(v.gif)
        endRun(&v)
        XCTAssertEqual(v.setNestedState(KvmNestedState(flags: NestedFlag.gifSet)), .ok)
        XCTAssertTrue(v.gif)
    }

    /// P2: clearing EFER.SVME outside guest mode no longer sets GIF.
    func testClearingSvmeOutsideGuestModeKeepsGif() {
        var v = makeL1()
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        l1SetSvme(&v)
        XCTAssertEqual(exec(&v, .clgi), .entered(.l1))
        XCTAssertEqual(exec(&v, .wrmsr(msr: MSR.efer, value: L1State.efer)), .entered(.l1))
        XCTAssertEqual(v.efer, L1State.efer)
        XCTAssertFalse(v.gif)
        XCTAssertFalse(v.nested.initialized)
    }

    // MARK: SET commits

    func testSetGuestModeEntersL2WithUntrustedRunPending() {
        var v = l1WithSvme()
        var st = guestModeState(flags: NestedFlag.guestMode | NestedFlag.runPending | NestedFlag.gifSet)
        st.save.rip = 0x5555
        XCTAssertEqual(v.setNestedState(st), .ok)
        XCTAssertEqual(v.mode, .l2)
        XCTAssertEqual(v.current, .vmcb02)
        XCTAssertEqual(v.nestedRunPending, 2)
        XCTAssertEqual(v.nested.vmcb12Gpa, Layout.vmcb12)
        XCTAssertTrue(v.gif)
        XCTAssertTrue(v.requests.contains(.getNestedStatePages))
        XCTAssertEqual(v.vmcb01.save.rip, 0x5555)
        XCTAssertEqual(v.vmcb01.save.cpl, 0)
        // prepare_save is not called: the registers are what userspace set before.
        XCTAssertEqual(v.efer, L1State.efer | EFER.svme)
        XCTAssertEqual(v.rip, L1State.rip)
        // The next run services GET_NESTED_STATE_PAGES and enters L2.
        XCTAssertEqual(beginRun(&v), .entered(.l2))
        XCTAssertEqual(v.nestedRunPending, 0)
        XCTAssertTrue(v.warnings.isEmpty, "\(v.warnings.sites)")
        // A #VMEXIT then restores the L1 state userspace supplied.
        XCTAssertEqual(exec(&v, .vmmcall), .entered(.l1))
        XCTAssertEqual(v.rip, 0x5555)
    }

    func testSetGuestModeWithoutGifSetClearsGif() {
        var v = l1WithSvme()
        XCTAssertEqual(v.setNestedState(guestModeState(flags: NestedFlag.guestMode)), .ok)
        XCTAssertEqual(v.mode, .l2)
        XCTAssertFalse(v.gif)
    }

    /// SET_NESTED_STATE with GUEST_MODE on a vCPU already in L2 leaves nested first, then re-enters.
    func testSetGuestModeWhileInL2Reenters() {
        var v = makeL1()
        enterL2(&v)
        endRun(&v)
        var st = v.getNestedState()
        st.vmcbPa = 0x11000
        XCTAssertEqual(v.setNestedState(st), .ok)
        XCTAssertEqual(v.mode, .l2)
        XCTAssertEqual(v.nested.vmcb12Gpa, 0x11000)
    }

    /// The final CR3 load fails after the commit: -EINVAL, with the vCPU left in guest mode.
    func testCr3LoadFailureLeavesVcpuInGuestMode() {
        var v = makeL1()
        XCTAssertEqual(v.setSregs(KvmSregs(efer: EFER.svme, cr0: CR0.pe | CR0.et, cr2: 0, cr3: 1 << 50, cr4: 0)), .ok)
        XCTAssertEqual(v.setNestedState(guestModeState()), .einval)
        XCTAssertTrue(v.guestMode)
        XCTAssertEqual(v.current, .vmcb02)
        XCTAssertEqual(v.nested.vmcb12Gpa, Layout.vmcb12)
    }

    // MARK: Save/restore in QEMU's order

    struct Snapshot {
        var sregs: KvmSregs, nested: KvmNestedState, regs: KvmRegs, msrs: KvmMsrs, events: KvmVcpuEvents
    }

    static func snapshot(_ v: Vcpu) -> Snapshot {
        Snapshot(sregs: v.getSregs(), nested: v.getNestedState(), regs: v.getRegs(), msrs: v.getMsrs(),
                 events: v.getVcpuEvents())
    }

    /// kvm_arch_put_registers: sregs, nested state, regs, MSRs, events.
    static func restore(_ v: inout Vcpu, _ s: Snapshot) -> [Errno] {
        [v.setSregs(s.sregs), v.setNestedState(s.nested), v.setRegs(s.regs),
         v.setMsr(MSR.vmHsavePa, s.msrs.hsavePa), v.setVcpuEvents(s.events)]
    }

    func testMigrationOfL2VcpuRoundTrips() {
        for variant in Variant.series {
            var src = makeL1(variant)
            enterL2(&src)
            endRun(&src)
            let snap = Self.snapshot(src)

            var dst = makeL1(variant)
            dst.adoptMemory(of: src)
            XCTAssertEqual(Self.restore(&dst, snap), [.ok, .ok, .ok, .ok, .ok], "\(variant)")
            XCTAssertEqual(dst.mode, .l2, "\(variant)")
            XCTAssertFalse(dst.requests.contains(.tripleFault), "\(variant)")
            XCTAssertEqual(dst.getRegs(), src.getRegs(), "\(variant)")
            XCTAssertEqual(dst.getSregs(), src.getSregs(), "\(variant)")
            XCTAssertEqual(dst.getNestedState(), src.getNestedState(), "\(variant)")

            // Both continue identically: L2's VMMCALL exits to L1 with the same L1 state and vmcb12.
            XCTAssertEqual(beginRun(&src), .entered(.l2), "\(variant)")
            XCTAssertEqual(beginRun(&dst), .entered(.l2), "\(variant)")
            XCTAssertEqual(exec(&src, .vmmcall), .entered(.l1), "\(variant)")
            XCTAssertEqual(exec(&dst, .vmmcall), .entered(.l1), "\(variant)")
            XCTAssertEqual(dst.getRegs(), src.getRegs(), "\(variant)")
            XCTAssertEqual(dst.getSregs(), src.getSregs(), "\(variant)")
            XCTAssertEqual(dst.gif, src.gif, "\(variant)")
            XCTAssertEqual(dst.vmcb12InMemory, src.vmcb12InMemory, "\(variant)")
            XCTAssertEqual(dst.rip, l1RipAfterVmrun, "\(variant)")
        }
    }

    /// Restoring L2 state over a vCPU that is itself in L2 (the thread's order, but with SREGS that
    /// carry SVME): no variant raises a triple fault, and the snapshot's L2 state wins.
    func testRestoreOfL2StateOverL2Vcpu() {
        for variant in Variant.series {
            var v = makeL1(variant)
            enterL2(&v)
            endRun(&v)
            let snap = Self.snapshot(v)
            XCTAssertEqual(beginRun(&v), .entered(.l2), "\(variant)")
            XCTAssertEqual(exec(&v, .wrmsr(msr: MSR.efer, value: L2State.efer | EFER.sce)), .entered(.l2), "\(variant)")
            endRun(&v)
            XCTAssertEqual(Self.restore(&v, snap), [.ok, .ok, .ok, .ok, .ok], "\(variant)")
            XCTAssertFalse(v.requests.contains(.tripleFault), "\(variant)")
            XCTAssertEqual(v.mode, .l2, "\(variant)")
            XCTAssertEqual(v.efer, L2State.efer, "\(variant)")
            XCTAssertEqual(v.rip, L2State.rip, "\(variant)")
            XCTAssertEqual(beginRun(&v), .entered(.l2), "\(variant)")
        }
    }

    /// A snapshot taken between VMRUN emulation and the entry carries RUN_PENDING; the restored vCPU
    /// has nested_run_pending = UNTRUSTED (2).
    func testRestoreWithRunPending() {
        var src = makeL1()
        prepareVmrun(&src)
        XCTAssertEqual(src.runGuestInstruction(.vmrun(gpa: Layout.vmcb12)), .resume)
        endRun(&src)
        let snap = Self.snapshot(src)
        XCTAssertNotEqual(snap.nested.flags & NestedFlag.runPending, 0)
        var dst = makeL1()
        dst.adoptMemory(of: src)
        XCTAssertEqual(Self.restore(&dst, snap), [.ok, .ok, .ok, .ok, .ok])
        XCTAssertEqual(dst.nestedRunPending, 2)
        XCTAssertEqual(beginRun(&dst), .entered(.l2))
        XCTAssertEqual(dst.nestedRunPending, 0)
    }
}
