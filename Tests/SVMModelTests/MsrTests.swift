// MSR paths (reference §2, §5, §7.1-7.2): L1's MSR permission map for L2's EFER write,
// MSR_VM_HSAVE_PA, MSR_VM_CR, and EFER.SVME through SET_SREGS / SET_MSRS / guest WRMSR.

import XCTest
import SVMModel

final class MsrTests: XCTestCase {
    /// Bit 1 of byte 0x820 of the MSRPM is the EFER write-intercept bit; bit 0 the read bit.
    func testEferWriteBitIsByte0x820Bit1() {
        XCTAssertEqual(svmMsrpmBitNr(MSR.efer), 16640)
        XCTAssertEqual(MsrpmImage(reads: 0, writes: 1).byte(at: 0x820), 0x02)
        XCTAssertEqual(MsrpmImage(reads: 1, writes: 0).byte(at: 0x820), 0x01)
        XCTAssertEqual(MsrpmImage(reads: 0, writes: 1).byte(at: 0x821), 0)
        XCTAssertNil(svmMsrpmBitNr(0x4000_0000))
    }

    private static let clearSvme = GuestInstruction.wrmsr(msr: MSR.efer, value: L2State.efer & ~EFER.svme)

    /// L1 intercepts the EFER write (MSR_PROT, MSRPM byte 0x820 bit 1): #VMEXIT(MSR) on every variant,
    /// with exit_info_1 = 1 and L2's EFER unchanged in vmcb12. No triple fault, no leave.
    func testL1InterceptingEferWriteGetsMsrVmexit() {
        for variant in Variant.series {
            var v = makeL1(variant)
            enterL2(&v, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .msrProt], msrpm: Layout.msrpm),
                    msrpm: MsrpmImage(reads: 0, writes: 1))
            XCTAssertEqual(exec(&v, Self.clearSvme), .entered(.l1), "\(variant)")
            XCTAssertEqual(v.lastVmexitCode, SVMExit.msr, "\(variant)")
            let vmcb12 = v.vmcb12InMemory
            XCTAssertEqual(vmcb12.control.exitCode, SVMExit.msr, "\(variant)")
            XCTAssertEqual(vmcb12.control.exitInfo1, 1, "\(variant): a write")
            XCTAssertEqual(vmcb12.save.efer, L2State.efer, "\(variant): the write was not performed")
            XCTAssertEqual(vmcb12.save.rip, L2State.rip, "\(variant): WRMSR not skipped")
            XCTAssertFalse(v.requests.contains(.tripleFault), "\(variant)")
            XCTAssertFalse(v.gif, "\(variant)")
            XCTAssertEqual(v.efer, L1State.efer | EFER.svme, "\(variant)")
            XCTAssertTrue(v.nested.initialized, "\(variant)")
            XCTAssertEqual(v.nested.vmcb12Gpa, 0, "\(variant)")
            XCTAssertNil(v.owners.firstL2Owned(current: v.current), "\(variant)")
        }
    }

    /// MSR_PROT with the read bit only, or with an empty bitmap: L0 handles the write itself.
    func testMsrProtWithoutWriteBitIsHandledByL0() {
        for image in [MsrpmImage(reads: 1, writes: 0), MsrpmImage()] {
            var v = makeL1(.merged)
            enterL2(&v, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .msrProt], msrpm: Layout.msrpm), msrpm: image)
            XCTAssertEqual(exec(&v, Self.clearSvme), .exit(.shutdown))
            XCTAssertNil(v.lastVmexitCode)
        }
    }

    /// A write bit without MSR_PROT is ignored: nested_svm_exit_handled_msr needs the intercept.
    func testWriteBitWithoutMsrProtIsIgnored() {
        var v = makeL1(.merged)
        enterL2(&v, vmcb12: makeVmcb12(msrpm: Layout.msrpm), msrpm: MsrpmImage(reads: 0, writes: 1))
        XCTAssertEqual(exec(&v, Self.clearSvme), .exit(.shutdown))
        XCTAssertNil(v.lastVmexitCode)
    }

    /// An MSR outside the three MSRPM ranges is always reflected under MSR_PROT.
    func testMsrOutsideMsrpmRangesIsReflected() {
        var v = makeL1()
        enterL2(&v, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .msrProt], msrpm: Layout.msrpm),
                msrpm: MsrpmImage())
        XCTAssertEqual(exec(&v, .wrmsr(msr: 0x4000_0000, value: 0)), .entered(.l1))
        XCTAssertEqual(v.lastVmexitCode, SVMExit.msr)
    }

    /// L2 writes EFER without touching SVME and L1 does not intercept: L0 emulates, L2 goes on.
    func testL2EferWriteKeepingSvmeStaysInL2() {
        for variant in Variant.series {
            var v = makeL1(variant)
            enterL2(&v)
            XCTAssertEqual(exec(&v, .wrmsr(msr: MSR.efer, value: L2State.efer | EFER.sce)), .entered(.l2), "\(variant)")
            XCTAssertEqual(v.efer, L2State.efer | EFER.sce, "\(variant)")
            XCTAssertEqual(v.rip, L2State.rip + 2, "\(variant)")
            XCTAssertNil(v.lastInjected, "\(variant)")
        }
    }

    /// L2 toggling EFER.LME with paging on is a #GP injected into L2 (set_efer's guest checks).
    func testL2EferLmeToggleWithPagingIsGP() {
        var v = makeL1()
        enterL2(&v)
        XCTAssertEqual(exec(&v, .wrmsr(msr: MSR.efer, value: L2State.efer & ~EFER.lme)), .entered(.l2))
        XCTAssertEqual(v.lastInjected, Vector.gp)
        XCTAssertEqual(v.efer, L2State.efer)
        XCTAssertEqual(v.rip, L2State.rip)
    }

    // MARK: MSR_VM_HSAVE_PA

    func testGuestHsaveWriteUnalignedIsGP() {
        var v = makeL1()
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        XCTAssertEqual(exec(&v, .wrmsr(msr: MSR.vmHsavePa, value: Layout.hsave + 0x10)), .entered(.l1))
        XCTAssertEqual(v.lastInjected, Vector.gp)
        XCTAssertEqual(v.nested.hsaveMsr, 0)
        XCTAssertEqual(v.rip, L1State.rip)
        // An illegal GPA is refused too.
        XCTAssertEqual(exec(&v, .wrmsr(msr: MSR.vmHsavePa, value: 1 << 52)), .entered(.l1))
        XCTAssertEqual(v.lastInjected, Vector.gp)
        XCTAssertEqual(v.nested.hsaveMsr, 0)
        // An aligned one is stored.
        XCTAssertEqual(exec(&v, .wrmsr(msr: MSR.vmHsavePa, value: Layout.hsave)), .entered(.l1))
        XCTAssertNil(v.lastInjected)
        XCTAssertEqual(v.getMsrs().hsavePa, Layout.hsave)
        XCTAssertEqual(v.rip, L1State.rip + 2)
    }

    func testHostHsaveWriteUnalignedIsAcceptedAndMasked() {
        var v = makeL1()
        XCTAssertEqual(v.setMsr(MSR.vmHsavePa, Layout.hsave + 0x10), .ok)
        XCTAssertEqual(v.getMsrs().hsavePa, Layout.hsave)
        XCTAssertEqual(v.setMsr(MSR.vmHsavePa, 1 << 52), .ok)
        XCTAssertEqual(v.getMsrs().hsavePa, 1 << 52)
    }

    // MARK: MSR_VM_CR

    func testVmCrSvmDisWithSvmeIsGPButStored() {
        var v = makeL1()
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        l1SetSvme(&v)
        XCTAssertEqual(exec(&v, .wrmsr(msr: MSR.vmCr, value: VMCR.svmDis)), .entered(.l1))
        XCTAssertEqual(v.lastInjected, Vector.gp)
        XCTAssertEqual(v.nested.vmCrMsr, VMCR.svmDis, "stored before the check, not rolled back")
        XCTAssertEqual(v.rip, L1State.rip + 2, "the faulting WRMSR does not retire")
        // With SVM_DIS set, LOCK and SVM_DIS can no longer change.
        XCTAssertEqual(exec(&v, .wrmsr(msr: MSR.vmCr, value: VMCR.lock)), .entered(.l1))
        XCTAssertEqual(v.nested.vmCrMsr, VMCR.svmDis)
    }

    func testVmCrSvmDisWithoutSvmeIsAccepted() {
        var v = makeL1()
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        XCTAssertEqual(exec(&v, .wrmsr(msr: MSR.vmCr, value: VMCR.svmDis)), .entered(.l1))
        XCTAssertNil(v.lastInjected)
        XCTAssertEqual(v.nested.vmCrMsr, VMCR.svmDis)
        XCTAssertEqual(v.rip, L1State.rip + 2)
    }

    func testVmCrReservedBitsAreGP() {
        var v = makeL1()
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        XCTAssertEqual(exec(&v, .wrmsr(msr: MSR.vmCr, value: 1 << 5)), .entered(.l1))
        XCTAssertEqual(v.lastInjected, Vector.gp)
        XCTAssertEqual(v.nested.vmCrMsr, 0)
    }

    // MARK: EFER.SVME through the other set_efer callers

    /// P5: KVM_SET_SREGS checks kvm_valid_efer, so EFER.SVME is refused when kvm_amd.nested=0
    /// (and when the guest has no SVM in CPUID). Nothing changes.
    func testSetSregsRejectsSvmeWithoutNested() {
        for (nested, guestSvm) in [(false, true), (true, false)] {
            var v = makeL1(nested: nested, guestSvm: guestSvm)
            let before = v
            var s = v.getSregs()
            s.efer |= EFER.svme
            XCTAssertEqual(v.setSregs(s), .einval, "nested=\(nested) guestSvm=\(guestSvm)")
            XCTAssertEqual(v, before, "nested=\(nested) guestSvm=\(guestSvm)")
            XCTAssertFalse(v.nested.initialized)
        }
    }

    func testGuestWrmsrSvmeWithoutNestedIsGP() {
        var v = makeL1(nested: false)
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        XCTAssertEqual(exec(&v, .wrmsr(msr: MSR.efer, value: L1State.efer | EFER.svme)), .entered(.l1))
        XCTAssertEqual(v.lastInjected, Vector.gp)
        XCTAssertEqual(v.efer, L1State.efer)
        XCTAssertFalse(v.nested.initialized)
    }

    /// Host-initiated KVM_SET_MSRS skips the guest-CPUID check but not KVM's supported bits.
    func testSetMsrsEferHostInitiated() {
        var v = makeL1(guestSvm: false)
        XCTAssertEqual(v.setMsr(MSR.efer, L1State.efer | EFER.svme), .ok)
        XCTAssertNotEqual(v.efer & EFER.svme, 0)
        XCTAssertTrue(v.nested.initialized)
        XCTAssertEqual(v.owners.efer, .host)

        var w = makeL1(nested: false)
        XCTAssertEqual(w.setMsr(MSR.efer, L1State.efer | EFER.svme), .einval)
        XCTAssertEqual(w.efer, L1State.efer)
    }

    /// SET_SREGS / SET_MSRS clearing SVME in L2 forces the vCPU out without a triple fault on merged
    /// (wants_to_run is false), with the triple fault on v2-set-efer.
    func testHostEferClearInL2() {
        for variant in Variant.series {
            for viaSregs in [true, false] {
                var v = makeL1(variant)
                enterL2(&v)
                endRun(&v)
                if viaSregs {
                    var s = v.getSregs()
                    s.efer &= ~EFER.svme
                    XCTAssertEqual(v.setSregs(s), .ok)
                } else {
                    XCTAssertEqual(v.setMsr(MSR.efer, L2State.efer & ~EFER.svme), .ok)
                }
                let what = "\(variant) via \(viaSregs ? "SET_SREGS" : "SET_MSRS")"
                XCTAssertEqual(v.efer & EFER.svme, 0, what)
                XCTAssertEqual(v.requests.contains(.tripleFault), variant == .v2SetEfer, what)
                if variant == .v1IgnoreInGuest {
                    XCTAssertEqual(v.mode, .l2, what)
                    XCTAssertTrue(v.nested.initialized, what)
                } else {
                    XCTAssertEqual(v.mode, .l1, what)
                    XCTAssertFalse(v.nested.initialized, what)
                    XCTAssertTrue(v.gif, what)
                    XCTAssertNil(v.owners.firstL2Owned(current: v.current), what)
                }
            }
        }
    }
}

final class OtherMsrTests: XCTestCase {
    /// Found by the differential campaign on real 6.12 (SFMASK, FS_BASE, IA32_TSC were #GP in the
    /// model, accepted by KVM): the SYSCALL MSRs and the TSC take any value, the segment bases any
    /// canonical one; an MSR KVM does not know still faults.
    func testSyscallTscAndBaseMsrsFromL1() {
        let cases: [(UInt32, UInt64, Bool)] = [
            (MSR.syscallMask, 0xd01, true), (MSR.cstar, 0xffff_ffff_ffff_ffff, true), (MSR.tsc, 0x4000, true),
            (MSR.fsBase, 0x1, true), (MSR.gsBase, 0xffff_8000_0000_0000, true), (MSR.kernelGsBase, 0x7fff_ffff_f000, true),
            (MSR.fsBase, 0x8000_0000_0000, false), (MSR.kernelGsBase, 0xffff_0000_0000_0000, false),
            (0x2000, 0, false),
        ]
        for (msr, value, ok) in cases {
            var v = makeL1(.merged)
            _ = exec(&v, .wrmsr(msr: msr, value: value))
            XCTAssertEqual(v.lastInjected == nil, ok, "wrmsr 0x\(String(msr, radix: 16)) 0x\(String(value, radix: 16))")
        }
    }
}
