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
            for hostVls in [true, false] {
                var v = makeL1(hostVls: hostVls)
                XCTAssertEqual(beginRun(&v), .entered(.l1))
                l1SetSvme(&v)
                XCTAssertEqual(exec(&v, make(0x30000)), .entered(.l1))
                XCTAssertNil(v.lastInjected)
                XCTAssertEqual(v.rip, L1State.rip + 5)
                // Unaligned and illegal GPAs are #GP (the CPU's rAX check).
                for gpa in [0x30008, 1 << 50] as [UInt64] {
                    XCTAssertEqual(exec(&v, make(gpa)), .entered(.l1))
                    XCTAssertEqual(v.lastInjected, Vector.gp, "gpa \(gpa) vls=\(hostVls)")
                    XCTAssertEqual(v.rip, L1State.rip + 5, "gpa \(gpa) vls=\(hostVls)")
                }
            }
        }
    }

    /// A legal, page-aligned GPA no memory backs (svm_nested_vmcb12_gpa vmload_unmappable and
    /// vmsave_unmappable): KVM_EXIT_INTERNAL_ERROR with RIP at the instruction, from
    /// kvm_handle_memory_failure since 2daf71bfd77d (no exception), #GP before it (real 6.12.117);
    /// with virtual VMLOAD/VMSAVE the CPU's nested page fault ends in KVM's emulator, which fails the
    /// instruction: #UD and the same exit, on every kernel.
    func testVmloadVmsaveOfUnbackedGpa() {
        for make in [{ GuestInstruction.vmload(gpa: $0) }, { GuestInstruction.vmsave(gpa: $0) }] {
            for (variant, hostVls, exit, exception) in [
                (Variant.merged, false, Step.exit(.internalError), nil as UInt8?),
                (.linux612, false, .entered(.l1), Vector.gp),
                (.merged, true, .exit(.internalError), Vector.ud),
                (.linux612, true, .exit(.internalError), Vector.ud),
            ] {
                var v = makeL1(variant, hostVls: hostVls)
                XCTAssertEqual(beginRun(&v), .entered(.l1))
                l1SetSvme(&v)
                let what = "\(make(0)) \(variant) vls=\(hostVls)"
                XCTAssertEqual(exec(&v, make(Layout.unmapped)), exit, what)
                XCTAssertEqual(v.lastInjected, exception, what)
                XCTAssertEqual(v.rip, L1State.rip + 2, what)
            }
        }
    }

    /// The same from L2 (vmcb02 always intercepts VMLOAD/VMSAVE, so KVM emulates them for L2).
    func testVmloadOfUnbackedGpaInL2() {
        for (variant, exit, exception) in [(Variant.merged, Step.exit(.internalError), nil as UInt8?),
                                           (.linux612, .entered(.l2), Vector.gp)] {
            var v = makeL1(variant)
            enterL2(&v)
            XCTAssertEqual(exec(&v, .vmload(gpa: Layout.unmapped)), exit, "\(variant)")
            XCTAssertEqual(v.lastInjected, exception, "\(variant)")
            XCTAssertEqual(v.rip, L2State.rip, "\(variant)")
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

    /// Nested vGIF (vmcb12 V_GIF_ENABLE): L2's CLGI runs in the CPU on L2's own V_GIF in vmcb02; GIF
    /// (gif_set, GIF_SET of KVM_GET_NESTED_STATE) stays L1's. The CPU-written V_GIF reaches the cached
    /// vmcb12 at the next exit (nested_sync_control_from_vmcb02), so KVM_GET_NESTED_STATE and the
    /// #VMEXIT's vmcb12 int_ctl report it.
    func testNestedVgifL2ClgiChangesOnlyL2sVgif() {
        var vmcb12 = makeVmcb12()
        vmcb12.control.intCtl = IntCtl.vGifEnable | IntCtl.vGif
        var v = makeL1()
        enterL2(&v, vmcb12: vmcb12)
        XCTAssertEqual(exec(&v, .clgi), .entered(.l2))
        XCTAssertTrue(v.gif)
        XCTAssertEqual(v.vmcb02.control.intCtl & IntCtl.vGif, 0)
        endRun(&v)                                 // the kick out of L2 for userspace
        let s = v.getNestedState()
        XCTAssertNotEqual(s.flags & NestedFlag.gifSet, 0, "L1's GIF")
        XCTAssertEqual(s.control.intCtl, IntCtl.vGifEnable, "L2's V_GIF, cleared")
        // A migrated vCPU resumes L2 with its V_GIF clear.
        var w = v
        XCTAssertEqual(w.setNestedState(s), .ok)
        XCTAssertEqual(w.vmcb02.control.intCtl & IntCtl.vGif, 0)
        XCTAssertEqual(beginRun(&v), .entered(.l2))
        XCTAssertEqual(exec(&v, .vmmcall), .entered(.l1))
        XCTAssertEqual(v.vmcb12InMemory.control.intCtl, IntCtl.vGifEnable)
    }

    /// An SMI that L1 intercepts is not held back by L2's CLGI under nested vGIF (svm_smi_blocked reads
    /// L1's GIF): #VMEXIT(SMI).
    func testNestedVgifL2ClgiDoesNotBlockAnInterceptedSmi() {
        var vmcb12 = makeVmcb12(intercepts: [.vmrun, .vmmcall, .smi])
        vmcb12.control.intCtl = IntCtl.vGifEnable | IntCtl.vGif
        var v = makeL1()
        enterL2(&v, vmcb12: vmcb12)
        XCTAssertEqual(exec(&v, .clgi), .entered(.l2))
        v.raiseSmi()
        XCTAssertEqual(reenter(&v), .entered(.l1))
        XCTAssertEqual(v.lastVmexitCode, SVMExit.smi)
        XCTAssertEqual(v.vmcb12InMemory.control.intCtl, IntCtl.vGifEnable)
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

    /// L2's RSM that vmcb12 intercepts is reflected as #VMEXIT(RSM) (KVM intercepts RSM itself and
    /// nested_svm_intercept finds L1's bit), with NextRIP after the 2-byte RSM; without the intercept
    /// it is #UD (kvm-unit-tests svm `rsm`).
    func testRsmInL2InterceptedByL1() {
        var v = makeL1()
        enterL2(&v, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .rsm]))
        XCTAssertEqual(exec(&v, .rsm), .entered(.l1))
        XCTAssertEqual(v.lastVmexitCode, SVMExit.rsm)
        XCTAssertNil(v.lastInjected)
        XCTAssertEqual(v.vmcb12InMemory.control.exitCode, SVMExit.rsm)
        XCTAssertEqual(v.vmcb12InMemory.control.nextRip, L2State.rip + 2)
        XCTAssertEqual(v.vmcb12InMemory.save.rip, L2State.rip)
        XCTAssertFalse(v.gif)

        var w = makeL1()
        enterL2(&w, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall]))
        XCTAssertEqual(exec(&w, .rsm), .entered(.l2))
        XCTAssertEqual(w.lastInjected, Vector.ud)
        XCTAssertNil(w.lastVmexitCode)
    }

    /// L2 at CPL 3 executing STGI/CLGI that the CPU runs under vGIF (L1 does not intercept them): the
    /// CPU's own CPL check is #GP in L2, with nested vGIF too; GIF and L2's V_GIF stay as they were.
    /// Without vGIF KVM intercepts them and nested_svm_check_permissions gives the same #GP.
    func testStgiClgiAtCpl3InL2IsGP() {
        for vgif in [true, false] {
            for intCtl in [0, IntCtl.vGifEnable | IntCtl.vGif] {
                for insn in [GuestInstruction.stgi, .clgi] {
                    var v = makeL1(vgif: vgif)
                    var vmcb12 = makeVmcb12(cpl: 3)
                    vmcb12.control.intCtl = intCtl
                    enterL2(&v, vmcb12: vmcb12)
                    let what = "\(insn) vgif=\(vgif) int_ctl=\(intCtl)"
                    XCTAssertEqual(exec(&v, insn), .entered(.l2), what)
                    XCTAssertEqual(v.lastInjected, Vector.gp, what)
                    XCTAssertEqual(v.rip, L2State.rip, what)
                    XCTAssertTrue(v.gif, what)
                    XCTAssertEqual(v.vmcb02.control.intCtl & IntCtl.vGif, intCtl & IntCtl.vGif, what)
                }
            }
        }
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
        XCTAssertNil(w.lastInjected, "reflected to L1, never injected into L2 (real 6.12.117 agrees)")
    }
}
