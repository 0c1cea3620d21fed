import XCTest
@testable import SVMModel

/// EVENTINJ, NextRIP and the interrupt shadow across VMRUN, #VMEXIT and KVM_GET_NESTED_STATE.
final class EventInjectionTests: XCTestCase {
    private func vmcb12(eventInj: UInt32 = 0, nextRip: UInt64 = 0, intState: UInt32 = 0,
                        intercepts: InterceptSet = [.vmrun, .vmmcall]) -> Vmcb {
        var v = makeVmcb12(intercepts: intercepts)
        v.control.eventInj = eventInj
        v.control.nextRip = nextRip
        v.control.intState = intState
        return v
    }

    func testVmrunRefusesAnEventInjOfUndefinedTypeOrVector() {
        for bad: UInt32 in [0x8000_0500, 0x8000_0302] {     // type 5; exception type with vector 2 (NMI)
            var v = makeL1()
            prepareVmrun(&v, vmcb12: vmcb12(eventInj: bad))
            XCTAssertEqual(exec(&v, .vmrun(gpa: Layout.vmcb12)), .entered(.l1), "0x\(String(bad, radix: 16))")
            XCTAssertEqual(v.vmcb12InMemory.control.exitCode, SVMExit.err)
            XCTAssertFalse(v.gif)
        }
        // An invalid EVENTINJ that is not marked valid is ignored.
        var v = makeL1()
        prepareVmrun(&v, vmcb12: vmcb12(eventInj: 0x0000_0500))
        XCTAssertEqual(exec(&v, .vmrun(gpa: Layout.vmcb12)), .entered(.l2))
    }

    /// Without check-event-inj (Debian's kernels) KVM leaves EVENTINJ to the CPU: its VMRUN of vmcb02
    /// fails and KVM hands L1 #VMEXIT(INVALID) (nested_svm_intercept's SVM_EXIT_ERR), with the exit code
    /// the CPU wrote. Silicon checks as the APM lists; QEMU's TCG (the oracle's CPU) refuses only
    /// vector 2 and vectors from 31 up, and writes a 32-bit code (real 6.1.192: 0xffffffff for vector 32).
    func testWithoutKvmsCheckTheCpuRefusesTheEntry() {
        for (cpu, code) in [(GuestCpu.epyc, SVMExit.err), (.qemu64, UInt64(0xffff_ffff))] {
            var v = makeL1(.linux61, cpu: cpu)
            prepareVmrun(&v, vmcb12: vmcb12(eventInj: 0x8000_0320))       // exception type, vector 32
            XCTAssertEqual(exec(&v, .vmrun(gpa: Layout.vmcb12)), .entered(.l1))
            XCTAssertEqual(v.vmcb12InMemory.control.exitCode, code)
            XCTAssertFalse(v.gif)
            XCTAssertEqual(v.nestedRunPending, 0)
            XCTAssertNil(v.l2EntryOvertaken, "the CPU tried the entry: KVM overtook nothing")
        }
        // Vector 15 is reserved: silicon refuses it, TCG delivers it to L2.
        var silicon = makeL1(.linux61, cpu: .epyc)
        prepareVmrun(&silicon, vmcb12: vmcb12(eventInj: 0x8000_030f))
        XCTAssertEqual(exec(&silicon, .vmrun(gpa: Layout.vmcb12)), .entered(.l1))
        var tcg = makeL1(.linux61, cpu: .qemu64)
        prepareVmrun(&tcg, vmcb12: vmcb12(eventInj: 0x8000_030f))
        XCTAssertEqual(exec(&tcg, .vmrun(gpa: Layout.vmcb12)), .entered(.l2))
        XCTAssertEqual(tcg.lastDelivered?.eventInj, 0x8000_030f)
        // With the fix KVM refuses it at VMRUN, before any entry.
        var merged = makeL1(.merged, cpu: .qemu64)
        prepareVmrun(&merged, vmcb12: vmcb12(eventInj: 0x8000_0320))
        XCTAssertEqual(exec(&merged, .vmrun(gpa: Layout.vmcb12)), .entered(.l1))
        XCTAssertEqual(merged.vmcb12InMemory.control.exitCode, SVMExit.err)
    }

    func testSoftInterruptPushesNextRipFromVmcb12WithNrips() {
        var v = makeL1()
        enterL2(&v, vmcb12: vmcb12(eventInj: 0x8000_0480, nextRip: 0x4002))
        XCTAssertEqual(v.lastDelivered, DeliveredEvent(eventInj: 0x8000_0480, returnRip: 0x4002))
        XCTAssertEqual(v.vmcb02.control.eventInj, 0, "the CPU consumed EVENTINJ")
        XCTAssertEqual(v.getNestedState().control.eventInj, 0, "and the cache followed")
    }

    func testWithoutNripsKvmStuffsL2sCurrentRipAtTheFirstRun() {
        for variant in [Variant.merged, .zooB25] {
            var v = makeL1(variant, guestNrips: false)
            // L1 without NRIPS leaves NextRIP as garbage and advances L2's RIP itself.
            enterL2(&v, vmcb12: vmcb12(eventInj: 0x8000_0480, nextRip: 0xdead))
            XCTAssertEqual(v.lastDelivered?.returnRip, L2State.rip, "\(variant)")
        }
    }

    func testRestoreWithRunPendingStuffsTheRestoredRipOnlyOnMerged() {
        for (variant, expected) in [(Variant.merged, L2State.rip), (.zooB25, 0)] {
            var v = makeL1(variant, guestNrips: false)
            prepareVmrun(&v, vmcb12: vmcb12(eventInj: 0x8000_0480))
            // VMRUN is emulated, then userspace stops the vCPU before L2 runs.
            XCTAssertEqual(v.runGuestInstruction(.vmrun(gpa: Layout.vmcb12)), .resume)
            endRun(&v)
            let nested = v.getNestedState(), sregs = v.getSregs(), regs = v.getRegs()
            XCTAssertNotEqual(nested.flags & NestedFlag.runPending, 0)
            // A fresh vCPU, restored in QEMU's order (SREGS, NESTED_STATE, REGS).
            var w = Vcpu.makeL1(config: v.config)
            w.adoptMemory(of: v)
            XCTAssertEqual(w.setSregs(sregs), .ok)
            XCTAssertEqual(w.setNestedState(nested), .ok)
            XCTAssertEqual(w.setRegs(regs), .ok)
            XCTAssertEqual(beginRun(&w), .entered(.l2))
            XCTAssertEqual(w.lastDelivered?.returnRip, expected, "\(variant)")
        }
    }

    func testNextRipAndShadowWrittenByTheCpuReachTheCachedVmcb12() {
        for variant in [Variant.merged, .zooB26] {
            var v = makeL1(variant)
            // L2 starts in an interrupt shadow; VMMCALL is not intercepted by L1, so L0 handles it.
            enterL2(&v, vmcb12: vmcb12(nextRip: 0x1111, intState: 1, intercepts: [.vmrun]))
            XCTAssertTrue(v.getVcpuEvents().shadow)
            XCTAssertEqual(exec(&v, .vmmcall), .entered(.l2))
            XCTAssertEqual(v.vmcb02.control.nextRip, L2State.rip + 3)
            XCTAssertFalse(v.getVcpuEvents().shadow)
            let cached = v.getNestedState().control
            if variant == .merged {
                XCTAssertEqual(cached.nextRip, L2State.rip + 3)
                XCTAssertEqual(cached.intState, 0)
            } else {
                XCTAssertEqual(cached.nextRip, 0x1111, "zoo-B26 keeps vmcb12's NextRIP")
                XCTAssertEqual(cached.intState, 1, "and its interrupt shadow")
            }
        }
    }

    func testVmexitReportsNextRipOnlyToAnL1WithNrips() {
        for nrips in [true, false] {
            var v = makeL1(guestNrips: nrips)
            enterL2(&v, vmcb12: vmcb12(nextRip: 0x1111, intState: 1))
            XCTAssertEqual(exec(&v, .vmmcall), .entered(.l1))
            let c = v.vmcb12InMemory.control
            XCTAssertEqual(c.exitCode, SVMExit.vmmcall)
            XCTAssertEqual(c.nextRip, nrips ? L2State.rip + 3 : 0x1111, "nrips=\(nrips)")
            XCTAssertEqual(c.intState, 0)
        }
    }

    func testSetVcpuEventsPutsTheShadowInTheCurrentVmcb() {
        var v = makeL1()
        XCTAssertEqual(v.setVcpuEvents(smm: nil, shadow: true), .ok)
        XCTAssertEqual(v.vmcb01.control.intState, IntState.shadow)
        XCTAssertTrue(v.getVcpuEvents().shadow)
    }
}
