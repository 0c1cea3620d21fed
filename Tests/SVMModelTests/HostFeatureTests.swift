// Host CPU features KVM's behaviour depends on (VcpuConfig.hostNrips, hostVls): where RIP goes after
// the forced leave of an unintercepted EFER.SVME clear by L2, NextRIP at L2's exits, and L1's
// VMLOAD/VMSAVE under virtual VMLOAD/VMSAVE.

import XCTest
import SVMModel

final class HostFeatureTests: XCTestCase {
    static let clearSvme = GuestInstruction.wrmsr(msr: MSR.efer, value: L2State.efer & ~EFER.svme)

    /// With host NRIPS, kvm_complete_insn_gp skips the WRMSR on vmcb01 after svm_leave_nested, taking
    /// the NextRIP the CPU wrote at L1's VMRUN exit: L1's address after its VMRUN (an L1 value), while
    /// RSP, RAX and the control registers stay L2's.
    func testForcedLeaveTakesVmcb01sStaleNextRipWithHostNrips() {
        var v = makeL1(.prefix, hostNrips: true)
        enterL2(&v)
        XCTAssertEqual(v.vmcb01.control.nextRip, l1RipAfterVmrun, "the CPU's NextRIP of L1's VMRUN exit")
        XCTAssertEqual(exec(&v, Self.clearSvme), .entered(.l1))
        XCTAssertEqual(v.rip, l1RipAfterVmrun)
        XCTAssertEqual(v.owners.rip, .l1)
        XCTAssertEqual(v.rsp, L2State.rsp)
        XCTAssertEqual(v.owners.firstL2Owned(current: v.current), "rsp")
    }

    /// Without host NRIPS (QEMU's TCG), KVM decodes the WRMSR at the current RIP, which is L2's.
    func testForcedLeaveDecodesAtL2sRipWithoutHostNrips() {
        var v = makeL1(.prefix, hostNrips: false)
        enterL2(&v)
        XCTAssertEqual(v.vmcb01.control.nextRip, 0, "a CPU without NRIPS writes no NextRIP")
        XCTAssertEqual(exec(&v, Self.clearSvme), .entered(.l1))
        XCTAssertEqual(v.rip, L2State.rip + 2, "WRMSR is two bytes")
        XCTAssertEqual(v.owners.rip, .l2)
        XCTAssertEqual(v.owners.firstL2Owned(current: v.current), "rip")
    }

    /// On merged the same leave ends in a shutdown; the RIP KVM reports follows the host the same way.
    func testMergedShutdownReportsTheSameRip() {
        for (nrips, rip) in [(true, l1RipAfterVmrun), (false, L2State.rip + 2)] {
            var v = makeL1(.merged, hostNrips: nrips)
            enterL2(&v)
            XCTAssertEqual(exec(&v, Self.clearSvme), .exit(.shutdown))
            XCTAssertEqual(v.rip, rip, "host NRIPS \(nrips)")
        }
    }

    /// The CPU's NextRIP at L2's instruction exits is the next instruction (WRMSR is 2 bytes, the SVM
    /// instructions 3), and only a CPU with NRIPS writes it.
    func testNextRipAtL2ExitsHasTheInstructionsLength() {
        let msrpm = MsrpmImage(reads: 0, writes: 2)        // STAR writes intercepted
        let vmcb12 = makeVmcb12(intercepts: [.vmrun, .vmmcall, .msrProt], msrpm: Layout.msrpm)
        for (insn, length) in [(GuestInstruction.wrmsr(msr: MSR.star, value: 1), UInt64(2)), (.vmmcall, 3)] {
            var v = makeL1(hostNrips: true)
            enterL2(&v, vmcb12: vmcb12, msrpm: msrpm)
            XCTAssertEqual(exec(&v, insn), .entered(.l1), "\(insn) is reflected to L1")
            XCTAssertEqual(v.vmcb12InMemory.control.nextRip, L2State.rip + length, "\(insn)")
            var w = makeL1(hostNrips: false)
            enterL2(&w, vmcb12: vmcb12, msrpm: msrpm)
            XCTAssertEqual(exec(&w, insn), .entered(.l1))
            XCTAssertEqual(w.vmcb12InMemory.control.nextRip, 0, "no NRIPS: nothing to report (\(insn))")
        }
    }

    /// A guest CPUID NRIPS bit is not offered by KVM on a host without NRIPS.
    func testGuestNripsNeedsHostNrips() {
        var c = VcpuConfig()
        XCTAssertTrue(c.nripsEnabled)
        c.hostNrips = false
        XCTAssertFalse(c.nripsEnabled)
        c.hostNrips = true
        c.guestNrips = false
        XCTAssertFalse(c.nripsEnabled)
    }

    /// With VLS the CPU runs L1's VMLOAD/VMSAVE; before 460c7eb2e759 vmcb01 leaves them unintercepted
    /// even with EFER.SVME clear, so they raise no #UD (the stable kernels on an AMD host with VLS).
    func testVmloadWithSvmeClearUnderVls() {
        for insn in [GuestInstruction.vmload(gpa: Layout.hsave), .vmsave(gpa: Layout.hsave)] {
            var k = makeL1(.linux612, hostVls: true)
            XCTAssertEqual(beginRun(&k), .entered(.l1))
            XCTAssertEqual(exec(&k, insn), .entered(.l1))
            XCTAssertNil(k.lastInjected, "\(insn): no #UD, the CPU ran it")
            XCTAssertEqual(k.rip, L1State.rip + 3)
            // merged has 460c7eb2e759: intercepted, #UD.
            var m = makeL1(.merged, hostVls: true)
            XCTAssertEqual(beginRun(&m), .entered(.l1))
            XCTAssertEqual(exec(&m, insn), .entered(.l1))
            XCTAssertEqual(m.lastInjected, Vector.ud, "\(insn)")
            // Without VLS (or without NPT) KVM intercepts them on every kernel.
            for w in [makeL1(.linux612, hostVls: false), makeL1(.linux612, npt: false, hostVls: true)] {
                var x = w
                XCTAssertEqual(beginRun(&x), .entered(.l1))
                XCTAssertEqual(exec(&x, insn), .entered(.l1))
                XCTAssertEqual(x.lastInjected, Vector.ud, "\(insn)")
            }
        }
    }
}

/// The guest CPU's MAXPHYADDR and CR4 features (VcpuConfig.cpu): QEMU's TCG CPU qemu64, the real-KVM
/// oracle's host, has 40-bit physical addresses and no SMEP, SMAP, FSGSBASE, PCID or XSAVE; the modeled
/// EPYC host has 48 bits and all five (corpus/oracle-confirm/tcg-cpu-maxphyaddr-and-cr4.svm, agreed by
/// real 6.1 and 6.12 under TCG).
final class GuestCpuTests: XCTestCase {
    func testHsavePaBeyondMaxPhyAddrFaultsOnlyOnTheSmallerCpu() {
        for (cpu, gp) in [(GuestCpu.epyc, false), (GuestCpu.qemu64, true)] {
            var v = makeL1(.linux612, cpu: cpu)
            beginRun(&v)
            XCTAssertEqual(exec(&v, .wrmsr(msr: MSR.vmHsavePa, value: 0xff_ffff_f000)), .entered(.l1), "below 2^40")
            XCTAssertEqual(v.nested.hsaveMsr, 0xff_ffff_f000)
            _ = exec(&v, .wrmsr(msr: MSR.vmHsavePa, value: 1 << 40))
            XCTAssertEqual(v.nested.hsaveMsr == 1 << 40, !gp, "\(cpu)")
        }
    }

    func testSetSregsRefusesCr4FeaturesTheCpuLacks() {
        for bit in [CR4.smep, CR4.smap, CR4.fsgsbase, CR4.pcide, CR4.osxsave] {
            for (cpu, refused) in [(GuestCpu.epyc, false), (GuestCpu.qemu64, true)] {
                var v = makeL1(.linux612, cpu: cpu)
                var s = v.getSregs()
                s.cr4 |= bit
                XCTAssertEqual(v.setSregs(s) != .ok, refused, "CR4 bit \(bit) on \(cpu)")
            }
        }
    }

    func testVmrunOfAVmcb12WithSmepIsInvalidOnTheSmallerCpu() {
        var vmcb12 = makeVmcb12()
        vmcb12.save.cr4 |= CR4.smep
        for (cpu, mode) in [(GuestCpu.epyc, Mode.l2), (GuestCpu.qemu64, Mode.l1)] {
            var v = makeL1(.linux612, cpu: cpu)
            prepareVmrun(&v, vmcb12: vmcb12)
            XCTAssertEqual(exec(&v, .vmrun(gpa: Layout.vmcb12)), .entered(mode), "\(cpu)")
            if mode == .l1 { XCTAssertEqual(v.vmcb12InMemory.control.exitCode, SVMExit.err) }
        }
    }
}
