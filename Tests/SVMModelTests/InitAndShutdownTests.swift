// INIT in L2 and the GIF latch (reference §8.2), and triple fault / shutdown (reference §6).

import XCTest
import SVMModel

final class InitTests: XCTestCase {
    /// Without INTERCEPT_INIT the INIT is processed in L2 context: kvm_vcpu_reset leaves nested,
    /// no #VMEXIT is written, and the vCPU comes up at the reset vector.
    func testInitInL2WithoutInterceptResetsVcpu() {
        var v = makeL1()
        enterL2(&v)
        v.raiseInit()
        XCTAssertEqual(reenter(&v), .entered(.l1))
        XCTAssertFalse(v.initPending)
        XCTAssertFalse(v.getVcpuEvents().latchedInit)
        XCTAssertEqual(v.rip, 0xfff0)
        XCTAssertEqual(v.cr0, CR0.et)
        XCTAssertEqual(v.cr3, 0)
        XCTAssertEqual(v.efer, 0)
        XCTAssertTrue(v.gif)
        XCTAssertEqual(v.current, .vmcb01)
        XCTAssertFalse(v.nested.initialized)
        XCTAssertNil(v.lastVmexitCode)
        XCTAssertEqual(v.vmcb12InMemory, makeVmcb12(), "vmcb12 untouched")
        XCTAssertEqual(v.owners.visible(current: v.current), Array(repeating: .host, count: 8))
    }

    /// Zoo B08 (ed129ec9057f reverted, as scripts/kvm-patches/zoo-reverts-6.12.patch does): the INIT
    /// clears guest mode in kvm_vcpu_reset's hflags without switching back to vmcb01, so the reset's
    /// CR0 and CR4 writes land in vmcb02, which svm_set_efer(0) then frees (svm_free_nested's WARN
    /// switches to vmcb01). vmcb01 keeps L1's paging CR0 and CR4 while KVM's own CR0 is the reset
    /// value: the CPU runs the reset vCPU paged at 0xfff0 with the reset IDT, which is why the reverted
    /// 6.12 kernel shut the VM down at that step (`scripts/zoo-on-kvm.sh --reverts`); the model, with no
    /// page tables, only shows the split.
    func testB08InitInL2LeavesL1sPagingInVmcb01() {
        for (variant, hardwareCr0) in [(Variant.zooB08, L1State.cr0), (.merged, CR0.et)] {
            var v = makeL1(variant)
            enterL2(&v)
            v.raiseInit()
            XCTAssertEqual(reenter(&v), .entered(.l1))
            XCTAssertEqual(v.cr0, CR0.et, "KVM's CR0 on \(variant)")
            XCTAssertEqual(v.current, .vmcb01)
            XCTAssertEqual(v.vmcb01.save.cr0 & (CR0.pg | CR0.pe), hardwareCr0 & (CR0.pg | CR0.pe), "the CPU's CR0 on \(variant)")
            XCTAssertEqual(v.warnings.sites.map(\.name).contains("svm_free_nested:not-vmcb01"), variant == .zooB08)
        }
    }

    /// With INTERCEPT_INIT: #VMEXIT(INIT) to L1 with GIF=0, and the INIT stays latched until L1's STGI,
    /// after which it resets the vCPU.
    func testInitInL2WithInterceptVmexitsAndLatches() {
        // Without vGIF, STGI exits to KVM (svm_set_gif requests KVM_REQ_EVENT for the INIT).
        var v = makeL1(vgif: false)
        enterL2(&v, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .initSignal]))
        v.raiseInit()
        XCTAssertEqual(reenter(&v), .entered(.l1))
        XCTAssertEqual(v.lastVmexitCode, SVMExit.initSignal)
        XCTAssertEqual(v.vmcb12InMemory.control.exitCode, SVMExit.initSignal)
        XCTAssertEqual(v.vmcb12InMemory.save.rip, L2State.rip)
        XCTAssertFalse(v.gif)
        XCTAssertTrue(v.initPending, "latched while GIF=0")
        XCTAssertTrue(v.getVcpuEvents().latchedInit)
        XCTAssertEqual(v.rip, l1RipAfterVmrun)
        XCTAssertTrue(v.nested.initialized)
        // L1 keeps running with the INIT latched.
        XCTAssertEqual(exec(&v, .vmmcall), .entered(.l1))
        XCTAssertEqual(v.rip, l1RipAfterVmrun + 3)
        XCTAssertTrue(v.initPending)
        // STGI opens GIF: the INIT is delivered at the next entry.
        XCTAssertEqual(exec(&v, .stgi), .entered(.l1))
        XCTAssertFalse(v.initPending)
        XCTAssertEqual(v.rip, 0xfff0)
        XCTAssertFalse(v.nested.initialized)
        XCTAssertEqual(v.efer, 0)
    }

    /// An IRQ userspace marked injected (KVM_SET_VCPU_EVENTS) while L2 runs, and an INIT L1 intercepts:
    /// the event to re-inject blocks the nested INIT (svm_check_nested_events: -EBUSY), so the IRQ goes
    /// into L2 first, with GIF set; the #VMEXIT(INIT) follows at the next round and clears the queue.
    /// Before, the model handed the IRQ to L1 after the #VMEXIT, with GIF=0 (a false
    /// kvm-warn:svm_inject_irq on zoo-B23).
    func testInjectedIrqGoesIntoL2BeforeTheInitVmexit() {
        for variant in [Variant.merged, .zooB23] {
            var v = makeL1(variant)
            enterL2(&v, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .initSignal]))
            endRun(&v)
            XCTAssertEqual(v.setVcpuEvents(smm: nil, interrupt: true), .ok)
            v.raiseInit()
            XCTAssertEqual(beginRun(&v), .entered(.l1), "\(variant)")
            XCTAssertEqual(v.lastVmexitCode, SVMExit.initSignal, "\(variant)")
            XCTAssertFalse(v.injectedIrq, "\(variant)")
            XCTAssertFalse(v.gif, "\(variant)")
            XCTAssertTrue(v.initPending, "\(variant): latched by GIF=0")
            XCTAssertTrue(v.warnings.isEmpty, "\(variant): \(v.warnings.sites)")
        }
    }

    /// INIT in L1 while L1 has GIF=0 (CLGI) is latched; STGI delivers it when STGI exits to KVM
    /// (no vGIF).
    func testInitLatchedWhileGifClear() {
        var v = makeL1(vgif: false)
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        l1SetSvme(&v)
        XCTAssertEqual(exec(&v, .clgi), .entered(.l1))
        XCTAssertFalse(v.gif)
        v.raiseInit()
        XCTAssertEqual(reenter(&v), .entered(.l1))
        XCTAssertTrue(v.initPending)
        XCTAssertEqual(v.rip, L1State.rip + 2 + 3)
        XCTAssertEqual(exec(&v, .vmmcall), .entered(.l1))
        XCTAssertTrue(v.initPending)
        XCTAssertEqual(exec(&v, .stgi), .entered(.l1))
        XCTAssertFalse(v.initPending)
        XCTAssertEqual(v.rip, 0xfff0)
        XCTAssertEqual(v.efer, 0)
    }

    /// With vGIF, L1's STGI runs in the CPU: KVM raises no KVM_REQ_EVENT and the latched INIT waits for
    /// the next request, here a KVM_SET_SREGS (seen on real 6.12.117 by `svmfuzz oracle`, seed 07).
    func testInitLatchedPastStgiUnderVgif() {
        var v = makeL1()
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        l1SetSvme(&v)
        XCTAssertEqual(exec(&v, .clgi), .entered(.l1))
        v.raiseInit()
        XCTAssertEqual(reenter(&v), .entered(.l1))
        XCTAssertEqual(exec(&v, .stgi), .entered(.l1))
        XCTAssertTrue(v.gif)
        XCTAssertTrue(v.initPending, "no KVM_REQ_EVENT: the INIT stays latched with GIF=1")
        XCTAssertEqual(exec(&v, .vmmcall), .entered(.l1))
        XCTAssertTrue(v.initPending)
        v.kvmRunEnd(.intr)
        XCTAssertEqual(v.setSregs(v.getSregs()), .ok)
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        XCTAssertFalse(v.initPending, "KVM_SET_SREGS requested KVM_REQ_EVENT")
        XCTAssertEqual(v.rip, 0xfff0)
    }

    /// INIT arriving between VMRUN emulation and the entry to L2 waits for the entry (-EBUSY),
    /// then is processed in L2 context.
    func testInitBlockedByNestedRunPending() {
        var v = makeL1()
        prepareVmrun(&v, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .initSignal]))
        XCTAssertEqual(v.runGuestInstruction(.vmrun(gpa: Layout.vmcb12)), .resume)
        v.raiseInit()
        _ = v.vcpuEnterGuest()
        XCTAssertEqual(v.nestedRunPending, 0)
        XCTAssertFalse(v.warnings.contains(.nestedRunPendingOnVmexit))
        XCTAssertEqual(v.lastVmexitCode, SVMExit.initSignal, "reflected once L2 was entered")
        XCTAssertEqual(v.mode, .l1)
    }

    /// INIT in SMM is latched.
    func testInitLatchedInSmm() {
        var v = makeL1()
        XCTAssertEqual(v.setVcpuEvents(smm: true), .ok)
        XCTAssertEqual(beginRun(&v), .entered(.smm))
        v.raiseInit()
        XCTAssertEqual(reenter(&v), .entered(.smm))
        XCTAssertTrue(v.initPending)
        XCTAssertEqual(v.rip, L1State.rip)
    }
}

final class ShutdownTests: XCTestCase {
    /// A triple fault in L2 (hardware SHUTDOWN) with vmcb12's SHUTDOWN intercept: #VMEXIT(SHUTDOWN) to L1.
    func testHardwareShutdownInL2WithInterceptVmexits() {
        var v = makeL1()
        enterL2(&v, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .shutdown]))
        XCTAssertEqual(exec(&v, .tripleFault), .entered(.l1))
        XCTAssertEqual(v.lastVmexitCode, SVMExit.shutdown)
        XCTAssertEqual(v.vmcb12InMemory.control.exitCode, SVMExit.shutdown)
        XCTAssertFalse(v.gif)
        XCTAssertEqual(v.rip, l1RipAfterVmrun)
        XCTAssertEqual(v.efer, L1State.efer | EFER.svme)
        XCTAssertFalse(v.requests.contains(.tripleFault))
    }

    /// Without the intercept: shutdown_interception INIT-resets the vCPU and exits with KVM_EXIT_SHUTDOWN.
    func testHardwareShutdownInL2WithoutInterceptResetsAndExits() {
        var v = makeL1()
        enterL2(&v)
        XCTAssertEqual(exec(&v, .tripleFault), .exit(.shutdown))
        XCTAssertEqual(v.mode, .l1)
        XCTAssertEqual(v.current, .vmcb01)
        XCTAssertFalse(v.nested.initialized)
        XCTAssertEqual(v.rip, 0xfff0)
        XCTAssertEqual(v.cr0, CR0.et)
        XCTAssertEqual(v.efer, 0)
        XCTAssertTrue(v.gif)
        XCTAssertNil(v.lastVmexitCode)
        XCTAssertEqual(v.vmcb12InMemory, makeVmcb12(), "vmcb12 untouched")
        XCTAssertFalse(v.requests.contains(.tripleFault))
    }

    /// The KVM_REQ_TRIPLE_FAULT path in L2 with the SHUTDOWN intercept: nested_svm_triple_fault
    /// synthesizes #VMEXIT(SHUTDOWN) and clears the request; L1 resumes with GIF=0.
    func testTripleFaultRequestInL2WithInterceptVmexits() {
        var v = makeL1()
        enterL2(&v, vmcb12: makeVmcb12(intercepts: [.vmrun, .vmmcall, .shutdown]))
        endRun(&v)
        XCTAssertEqual(v.setVcpuEvents(smm: nil, tripleFault: true), .ok)
        XCTAssertTrue(v.getVcpuEvents().tripleFault)
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        XCTAssertEqual(v.lastVmexitCode, SVMExit.shutdown)
        XCTAssertEqual(v.vmcb12InMemory.control.exitCode, SVMExit.shutdown)
        XCTAssertFalse(v.gif)
        XCTAssertFalse(v.requests.contains(.tripleFault))
        XCTAssertEqual(v.rip, l1RipAfterVmrun)
        XCTAssertTrue(v.warnings.isEmpty, "\(v.warnings.sites)")
    }

    /// The request path without the intercept: KVM_EXIT_SHUTDOWN and, unlike the hardware path,
    /// no reset: the vCPU is still in L2 with its state.
    func testTripleFaultRequestInL2WithoutInterceptExitsWithoutReset() {
        var v = makeL1()
        enterL2(&v)
        endRun(&v)
        XCTAssertEqual(v.setVcpuEvents(smm: nil, tripleFault: true), .ok)
        XCTAssertEqual(beginRun(&v), .exit(.shutdown))
        XCTAssertEqual(v.mode, .l2)
        XCTAssertEqual(v.rip, L2State.rip)
        XCTAssertEqual(v.efer, L2State.efer)
        XCTAssertTrue(v.nested.initialized)
        XCTAssertFalse(v.requests.contains(.tripleFault))
        XCTAssertNil(v.lastVmexitCode)
    }

    /// KVM_SET_VCPU_EVENTS can also withdraw a pending triple fault.
    func testSetVcpuEventsClearsTripleFault() {
        var v = makeL1(.v2SetEfer)
        enterL2(&v)
        endRun(&v)
        var s = v.getSregs()
        s.efer &= ~EFER.svme
        XCTAssertEqual(v.setSregs(s), .ok)
        XCTAssertTrue(v.getVcpuEvents().tripleFault)
        XCTAssertEqual(v.setVcpuEvents(smm: nil, tripleFault: false), .ok)
        XCTAssertFalse(v.getVcpuEvents().tripleFault)
        XCTAssertEqual(beginRun(&v), .entered(.l1))
    }

    /// A hardware shutdown in L1 resets and exits too.
    func testHardwareShutdownInL1() {
        var v = makeL1()
        XCTAssertEqual(beginRun(&v), .entered(.l1))
        XCTAssertEqual(exec(&v, .tripleFault), .exit(.shutdown))
        XCTAssertEqual(v.rip, 0xfff0)
        XCTAssertEqual(v.mode, .l1)
    }
}
