// The forced-emulation door (kvm.force_emulation_prefix, issue 14 §1): a WRMSR behind `ud2; "kvm"`
// goes through handle_ud and KVM's emulator instead of msr_interception.

import XCTest
import SVMModel

final class EmulatorTests: XCTestCase {
    private static let clearSvme = GuestInstruction.wrmsr(msr: MSR.efer, value: L2State.efer & ~EFER.svme)

    private func makeL1(_ variant: Variant = .merged, fep: Bool = true) -> Vcpu {
        var c = VcpuConfig(variant: variant)
        c.forceEmulationPrefix = fep
        return Vcpu.makeL1(config: c)
    }

    /// Inside a run: the prefixed instruction, then re-entry or the return to userspace.
    @discardableResult
    private func execEmulated(_ v: inout Vcpu, _ insn: GuestInstruction) -> (Step, emulated: Bool) {
        let (h, emulated) = v.runForcedEmulation(insn)
        switch h {
        case .resume: return (reenter(&v), emulated)
        case .exitToUserspace(let r):
            v.kvmRunEnd(r)
            return (.exit(r), emulated)
        case .error(let e):
            v.kvmRunEnd(.none)
            return (.error(e), emulated)
        }
    }

    /// Without the module parameter the prefix is a plain UD2: the guest gets #UD at it.
    func testWithoutTheParameterThePrefixIsAnUd() {
        var v = makeL1(fep: false)
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        let rip = v.rip
        let (step, emulated) = execEmulated(&v, .wrmsr(msr: MSR.efer, value: L1State.efer | EFER.svme))
        XCTAssertEqual(step, .entered(.l1))
        XCTAssertFalse(emulated)
        XCTAssertEqual(v.lastInjected, Vector.ud)
        XCTAssertEqual(v.rip, rip)
        XCTAssertEqual(v.efer, L1State.efer, "the WRMSR never ran")
    }

    /// In L1 the emulated WRMSR does what the intercepted one does; RIP moves past prefix and WRMSR.
    func testL1EmulatedWrmsrSetsEfer() {
        var v = makeL1()
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        let rip = v.rip
        let (step, emulated) = execEmulated(&v, .wrmsr(msr: MSR.efer, value: L1State.efer | EFER.svme))
        XCTAssertEqual(step, .entered(.l1))
        XCTAssertTrue(emulated)
        XCTAssertEqual(v.efer, L1State.efer | EFER.svme)
        XCTAssertTrue(v.nested.initialized)
        XCTAssertEqual(v.rip, rip + 5 + 2)
    }

    /// msr-hook's rule lives in msr_interception, which the emulator bypasses: L2 clearing EFER.SVME
    /// through the emulator leaves nested without a triple fault, and L1 runs on L2's registers, RFLAGS
    /// included (the writeback puts the RFLAGS captured in L2 into vmcb01). merged and v2 raise the
    /// triple fault in svm_set_efer itself, on either path.
    func testEmulatorBypassesMsrHook() {
        for (variant, shutdown) in [(Variant.msrHook, false), (.prefix, false), (.merged, true), (.v2SetEfer, true)] {
            var v = makeL1(variant)
            enterL2(&v)
            let (step, emulated) = execEmulated(&v, Self.clearSvme)
            XCTAssertTrue(emulated, "\(variant)")
            if shutdown {
                XCTAssertEqual(step, .exit(.shutdown), "\(variant)")
                continue
            }
            XCTAssertEqual(step, .entered(.l1), "\(variant)")
            XCTAssertEqual(v.rip, L2State.rip + 7, "\(variant): L2's RIP after prefix and WRMSR")
            XCTAssertEqual(v.owners.rip, .l2, "\(variant)")
            XCTAssertEqual(v.rflags, L2State.rflags, "\(variant): L2's RFLAGS written into vmcb01")
            XCTAssertEqual(v.owners.rflags01, .l2, "\(variant)")
        }
        // The same WRMSR through its intercept: msr-hook shuts L1 down.
        var w = makeL1(.msrHook)
        enterL2(&w)
        XCTAssertEqual(exec(&w, Self.clearSvme), .exit(.shutdown))
    }

    /// vmcb01 intercepts #UD, so the prefix's #UD exit stays with L0 (nested_svm_exit_special) even
    /// when L1 intercepts #UD: the instruction is emulated in L2, no #VMEXIT(EXCP 6) (real 6.1.192 and
    /// 6.12.117, corpus/coverage/16).
    func testL0EmulatesThePrefixEvenWhenL1InterceptsUd() {
        var v = makeL1()
        var intercepts: InterceptSet = [.vmrun, .vmmcall]
        intercepts.exceptions |= 1 << UInt32(Vector.ud)
        enterL2(&v, vmcb12: makeVmcb12(intercepts: intercepts))
        let (_, emulated) = execEmulated(&v, .wrmsr(msr: MSR.star, value: 0))
        XCTAssertTrue(emulated)
        XCTAssertNotEqual(v.lastVmexitCode, SVMExit.exceptionBase + UInt64(Vector.ud))
        XCTAssertNil(v.lastInjected)
    }

    /// svm_check_intercept: L1's MSR permission map decides as for the intercepted WRMSR; the
    /// #VMEXIT(MSR) reports a write, and L2's RIP in vmcb12 is past the prefix (handle_ud moved it).
    func testEmulatorHonoursL1MsrIntercept() {
        var v = makeL1(.msrHook)
        enterL2(&v, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .msrProt], msrpm: Layout.msrpm),
                msrpm: MsrpmImage(reads: 0, writes: 1))
        let (step, emulated) = execEmulated(&v, Self.clearSvme)
        XCTAssertEqual(step, .entered(.l1))
        XCTAssertTrue(emulated)
        let vmcb12 = v.vmcb12InMemory
        XCTAssertEqual(vmcb12.control.exitCode, SVMExit.msr)
        XCTAssertEqual(vmcb12.control.exitInfo1, 1)
        XCTAssertEqual(vmcb12.save.efer, L2State.efer, "the write was not performed")
        XCTAssertEqual(vmcb12.save.rip, L2State.rip + 5)
        XCTAssertFalse(v.requests.contains(.tripleFault))
    }

    /// Priv (#GP at CPL > 0) comes before L1's intercept; a refused write is a fault: no writeback,
    /// RIP stays at the WRMSR behind the prefix.
    func testFaultsLeaveRipAtTheWrmsr() {
        var v = makeL1()
        enterL2(&v, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .msrProt], msrpm: Layout.msrpm, cpl: 3),
                msrpm: MsrpmImage(reads: 0, writes: 1))
        let (step, _) = execEmulated(&v, Self.clearSvme)
        XCTAssertEqual(step, .entered(.l2))
        XCTAssertEqual(v.lastInjected, Vector.gp)
        XCTAssertNil(v.lastVmexitCode, "#GP before the intercept check")
        var w = makeL1()
        XCTAssertEqual(beginRun(&w), .entered(.l1))
        let rip = w.rip
        let (s2, _) = execEmulated(&w, .wrmsr(msr: MSR.vmHsavePa, value: 0x1234))
        XCTAssertEqual(s2, .entered(.l1))
        XCTAssertEqual(w.lastInjected, Vector.gp)
        XCTAssertEqual(w.rip, rip + 5)
    }

    // MARK: - The SVM instructions, VMMCALL and RSM (group7_rm3 and em_rsm)

    /// check_svme and check_svme_pa in L1: STGI without EFER.SVME is #UD; VMLOAD with rAX beyond 48 bits
    /// is #GP although EFER.SVME is clear (rAX is tested first). Faults leave RIP at the instruction.
    func testL1PermissionChecks() {
        var v = makeL1()
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        let rip = v.rip
        XCTAssertEqual(execEmulated(&v, .stgi).0, .entered(.l1))
        XCTAssertEqual(v.lastInjected, Vector.ud)
        XCTAssertEqual(v.rip, rip + 5)
        XCTAssertEqual(execEmulated(&v, .vmload(gpa: 1 << 48)).0, .entered(.l1))
        XCTAssertEqual(v.lastInjected, Vector.gp)
        XCTAssertEqual(execEmulated(&v, .vmload(gpa: Layout.vmcb12)).0, .entered(.l1))
        XCTAssertEqual(v.lastInjected, Vector.ud, "a legal rAX: check_svme's #UD")
    }

    /// Past its checks the emulator has no VMRUN: #UD and an emulation-failure exit; L2 is never entered.
    func testL1EmulatedVmrunIsAnEmulationFailure() {
        var v = makeL1()
        prepareVmrun(&v, vmcb12: makeVmcb12())
        let (step, _) = execEmulated(&v, .vmrun(gpa: Layout.vmcb12))
        XCTAssertEqual(step, .exit(.internalError))
        XCTAssertEqual(v.mode, .l1)
        XCTAssertFalse(v.guestMode)
        XCTAssertEqual(v.rip, l1RipAfterVmrun - 3 + 5, "RIP at the VMRUN behind the prefix")
    }

    /// L1's emulated VMMCALL is rewritten in place and re-run: the native hypercall (-KVM_ENOSYS).
    func testL1EmulatedVmmcallRunsTheHypercall() {
        var v = makeL1()
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        let rip = v.rip
        XCTAssertEqual(execEmulated(&v, .vmmcall).0, .entered(.l1))
        XCTAssertEqual(v.rax, UInt64(bitPattern: -1000))
        XCTAssertEqual(v.rip, rip + 5 + 3)
        XCTAssertEqual(execEmulated(&v, .rsm).0, .entered(.l1))
        XCTAssertEqual(v.lastInjected, Vector.ud, "RSM outside SMM")
    }

    /// svm_check_intercept reflects L2's CLGI and RSM with their own exit codes and NextRIP after the
    /// instruction; L2's RIP in vmcb12 is past the prefix.
    func testL2InterceptedInstructionsReflect() {
        for (insn, extra) in [(GuestInstruction.clgi, InterceptSet.clgi), (.rsm, .rsm), (.vmmcall, []), (.vmrun(gpa: Layout.vmcb12), [])] {
            var v = makeL1()
            enterL2(&v, vmcb12: makeVmcb12(intercepts: InterceptSet(exceptions: 0, misc: (InterceptSet.vmrun.misc | InterceptSet.vmmcall.misc | extra.misc))))
            XCTAssertEqual(execEmulated(&v, insn).0, .entered(.l1), "\(insn)")
            let vmcb12 = v.vmcb12InMemory
            XCTAssertEqual(vmcb12.control.exitCode, insn.exitCode, "\(insn)")
            XCTAssertEqual(vmcb12.control.exitInfo1, 0, "\(insn)")
            XCTAssertEqual(vmcb12.save.rip, L2State.rip + 5, "\(insn)")
            XCTAssertEqual(vmcb12.control.nextRip, L2State.rip + 5 + insn.length, "\(insn)")
        }
    }

    /// What L1 does not intercept has no emulator handler in L2: #UD in L2, no exit to userspace (the
    /// intercepted path would run STGI through vGIF and VMLOAD on L1's memory).
    func testL2UninterceptedInstructionsAreUd() {
        for insn in [GuestInstruction.stgi, .clgi, .vmload(gpa: Layout.vmcb12), .vmsave(gpa: Layout.vmcb12), .rsm] {
            var v = makeL1()
            enterL2(&v)
            let gif = v.gif
            XCTAssertEqual(execEmulated(&v, insn).0, .entered(.l2), "\(insn)")
            XCTAssertEqual(v.lastInjected, Vector.ud, "\(insn)")
            XCTAssertNil(v.lastVmexitCode, "\(insn)")
            XCTAssertEqual(v.gif, gif, "\(insn)")
            XCTAssertEqual(v.rip, L2State.rip + 5, "\(insn)")
        }
    }

    /// The emulator's own checks come before L1's intercept: CPL 3 is #GP, rAX beyond 48 bits is #GP.
    /// Run natively, the CPU's address check (SVME_ADDR_CHK, as QEMU's TCG orders it) comes first
    /// too; without it, or with a legal address, the intercepted path reflects the instruction to L1.
    func testL2ChecksBeforeTheIntercept() {
        var v = makeL1()
        enterL2(&v, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .stgi], cpl: 3))
        XCTAssertEqual(execEmulated(&v, .stgi).0, .entered(.l2))
        XCTAssertEqual(v.lastInjected, Vector.gp)
        XCTAssertNil(v.lastVmexitCode)
        var w = makeL1()
        enterL2(&w, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .vmload]))
        XCTAssertEqual(execEmulated(&w, .vmload(gpa: 1 << 48)).0, .entered(.l2))
        XCTAssertEqual(w.lastInjected, Vector.gp)
        var n = makeL1()
        enterL2(&n, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .vmload]))
        XCTAssertEqual(exec(&n, .vmload(gpa: 1 << 48)), .entered(.l2), "the CPU's #GP comes before the intercept")
        XCTAssertEqual(n.lastInjected, Vector.gp)
        XCTAssertNil(n.lastVmexitCode)
        var legal = makeL1()
        enterL2(&legal, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .vmload]))
        XCTAssertEqual(exec(&legal, .vmload(gpa: Layout.vmcb12)), .entered(.l1), "the intercepted path reflects")
        XCTAssertEqual(legal.lastVmexitCode, SVMExit.vmload)
        var c = VcpuConfig(variant: .merged)
        c.hostSvmeAddrChk = false
        var old = Vcpu.makeL1(config: c)
        enterL2(&old, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .vmload]))
        XCTAssertEqual(exec(&old, .vmload(gpa: 1 << 48)), .entered(.l1), "without SVME_ADDR_CHK the intercept comes first")
        XCTAssertEqual(old.lastVmexitCode, SVMExit.vmload)
    }
}
