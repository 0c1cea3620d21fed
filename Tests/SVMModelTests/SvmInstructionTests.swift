// STGI / CLGI / VMLOAD / VMSAVE: nested_svm_check_permissions (reference §4.1) and their handling
// in L1 and L2.

import XCTest
import SVMModel

final class SvmInstructionTests: XCTestCase {
    static let svmInsns: [GuestInstruction] = [.stgi, .clgi, .vmload(gpa: 0x30000), .vmsave(gpa: 0x30000)]

    func testSvmInstructionsWithoutSvmeAreUD() {
        for vgif in [true, false] {
            for insn in Self.svmInsns {
                var v = makeL1(vgif: vgif)
                XCTAssertEqual(beginRun(&v), .entered(.l1))
                XCTAssertEqual(exec(&v, insn), .entered(.l1), "\(insn) vgif=\(vgif)")
                XCTAssertEqual(v.lastInjected, Vector.ud, "\(insn) vgif=\(vgif)")
                XCTAssertEqual(v.rip, L1State.rip, "\(insn) vgif=\(vgif)")
                XCTAssertTrue(v.gif, "\(insn) vgif=\(vgif)")
            }
        }
    }

    func testSvmInstructionsWithPagingOffAreUD() {
        for insn in [GuestInstruction.vmload(gpa: 0x30000), .vmsave(gpa: 0x30000)] {
            var v = makeL1(vgif: false)
            XCTAssertEqual(v.setSregs(KvmSregs(efer: EFER.svme, cr0: CR0.pe | CR0.et, cr2: 0, cr3: 0, cr4: 0)), .ok)
            XCTAssertEqual(beginRun(&v), .entered(.l1))
            XCTAssertEqual(exec(&v, insn), .entered(.l1), "\(insn)")
            XCTAssertEqual(v.lastInjected, Vector.ud, "\(insn)")
            XCTAssertEqual(v.rip, L1State.rip, "\(insn)")
        }
        var v = makeL1(vgif: false)
        XCTAssertEqual(v.setSregs(KvmSregs(efer: EFER.svme, cr0: CR0.pe | CR0.et, cr2: 0, cr3: 0, cr4: 0)), .ok)
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        XCTAssertEqual(exec(&v, .clgi), .entered(.l1))
        XCTAssertEqual(v.lastInjected, Vector.ud)
        XCTAssertTrue(v.gif)
    }

    func testStgiClgiWithSvmeToggleGif() {
        for vgif in [true, false] {
            var v = makeL1(vgif: vgif)
            XCTAssertEqual(beginRun(&v), .entered(.l1))
            l1SetSvme(&v)
            XCTAssertEqual(exec(&v, .clgi), .entered(.l1), "vgif=\(vgif)")
            XCTAssertFalse(v.gif, "vgif=\(vgif)")
            XCTAssertNil(v.lastInjected, "vgif=\(vgif)")
            XCTAssertEqual(v.rip, L1State.rip + 2 + 3, "vgif=\(vgif)")
            XCTAssertEqual(exec(&v, .stgi), .entered(.l1), "vgif=\(vgif)")
            XCTAssertTrue(v.gif, "vgif=\(vgif)")
            XCTAssertEqual(v.rip, L1State.rip + 2 + 6, "vgif=\(vgif)")
        }
    }

    func testVmloadVmsaveWithSvme() {
        for make in [{ GuestInstruction.vmload(gpa: $0) }, { GuestInstruction.vmsave(gpa: $0) }] {
            var v = makeL1()
            XCTAssertEqual(beginRun(&v), .entered(.l1))
            l1SetSvme(&v)
            XCTAssertEqual(exec(&v, make(0x30000)), .entered(.l1))
            XCTAssertNil(v.lastInjected)
            XCTAssertEqual(v.rip, L1State.rip + 5)
            // Unaligned, illegal and unbacked GPAs are #GP.
            for gpa in [0x30008, 1 << 50, Layout.unmapped] as [UInt64] {
                XCTAssertEqual(exec(&v, make(gpa)), .entered(.l1))
                XCTAssertEqual(v.lastInjected, Vector.gp, "gpa \(gpa)")
                XCTAssertEqual(v.rip, L1State.rip + 5, "gpa \(gpa)")
            }
        }
    }

    /// L2 at CPL 3 executing VMLOAD/VMSAVE that L1 does not intercept: L0 emulates and the
    /// permission check gives #GP (CPL > 0).
    func testVmloadAtCpl3InL2IsGP() {
        for insn in [GuestInstruction.vmload(gpa: 0x30000), .vmsave(gpa: 0x30000)] {
            var v = makeL1()
            enterL2(&v, vmcb12: makeVmcb12(cpl: 3))
            XCTAssertEqual(exec(&v, insn), .entered(.l2), "\(insn)")
            XCTAssertEqual(v.lastInjected, Vector.gp, "\(insn)")
            XCTAssertEqual(v.rip, L2State.rip, "\(insn)")
        }
    }

    func testVmloadAtCpl0InL2IsEmulated() {
        var v = makeL1()
        enterL2(&v)
        XCTAssertEqual(exec(&v, .vmload(gpa: 0x30000)), .entered(.l2))
        XCTAssertNil(v.lastInjected)
        XCTAssertEqual(v.rip, L2State.rip + 3)
    }

    /// Intercepted by L1: #VMEXIT with the instruction's exit code.
    func testSvmInstructionsInL2InterceptedByL1() {
        let cases: [(GuestInstruction, InterceptSet, UInt64)] = [
            (.stgi, .stgi, SVMExit.stgi), (.clgi, .clgi, SVMExit.clgi),
            (.vmload(gpa: 0x30000), .vmload, SVMExit.vmload), (.vmsave(gpa: 0x30000), .vmsave, SVMExit.vmsave),
            (.vmrun(gpa: Layout.vmcb12), .vmrun, SVMExit.vmrun),
        ]
        for (insn, intercept, code) in cases {
            var v = makeL1()
            enterL2(&v, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, intercept]))
            XCTAssertEqual(exec(&v, insn), .entered(.l1), "\(insn)")
            XCTAssertEqual(v.lastVmexitCode, code, "\(insn)")
            XCTAssertEqual(v.vmcb12InMemory.control.exitCode, code, "\(insn)")
            XCTAssertEqual(v.vmcb12InMemory.save.rip, L2State.rip, "\(insn)")
            XCTAssertFalse(v.gif, "\(insn)")
        }
    }

    /// With vGIF and L1 not intercepting, L2's CLGI/STGI change GIF without leaving L2.
    func testStgiClgiInL2WithoutL1Intercept() {
        var v = makeL1()
        enterL2(&v)
        XCTAssertEqual(exec(&v, .clgi), .entered(.l2))
        XCTAssertFalse(v.gif)
        XCTAssertEqual(v.rip, L2State.rip + 3)
        XCTAssertEqual(exec(&v, .stgi), .entered(.l2))
        XCTAssertTrue(v.gif)
        XCTAssertNil(v.lastVmexitCode)
    }

    /// L2's VMMCALL without the L1 intercept is #UD in L2 (not a KVM hypercall), as real 6.12.117 does;
    /// reflected to L1 when L1 intercepts #UD.
    func testVmmcallInL2WithoutInterceptRaisesUd() {
        var v = makeL1()
        enterL2(&v, vmcb12: makeVmcb12(intercepts: [.vmrun]))
        XCTAssertEqual(exec(&v, .vmmcall), .entered(.l2))
        XCTAssertNil(v.lastVmexitCode)
        XCTAssertEqual(v.lastInjected, Vector.ud)
        XCTAssertEqual(v.rip, L2State.rip, "a fault does not advance RIP")

        var w = makeL1()
        enterL2(&w, vmcb12: makeVmcb12(intercepts: [.vmrun, .ud]))
        XCTAssertEqual(exec(&w, .vmmcall), .entered(.l1))
        XCTAssertEqual(w.lastVmexitCode, SVMExit.exceptionBase + UInt64(Vector.ud))
    }

    /// RSM outside SMM is #UD; in L2 it is reflected when L1 intercepts #UD.
    func testRsmOutsideSmm() {
        var v = makeL1()
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        XCTAssertEqual(exec(&v, .rsm), .entered(.l1))
        XCTAssertEqual(v.lastInjected, Vector.ud)

        var w = makeL1()
        enterL2(&w, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .ud]))
        XCTAssertEqual(exec(&w, .rsm), .entered(.l1))
        XCTAssertEqual(w.lastVmexitCode, SVMExit.exceptionBase + UInt64(Vector.ud))
    }
}
