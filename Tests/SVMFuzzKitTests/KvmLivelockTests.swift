import XCTest
import SVMFuzzKit
import SVMModel

/// Debian 6.1's NPF livelock after a forced leave (npf-progress-on-stale-root, KvmFixes.swift) and the
/// kvm-livelock invariant that reports it. Each program below has real-KVM records that show the
/// same on both kernels (corpus/oracle/<kernel>/).
final class KvmLivelockTests: XCTestCase {
    private func run(_ text: String, _ variant: Variant, asKernel: Bool = false) throws -> RunReport {
        let p = try SVMText.parse(text, file: "t.svm")
        return Runner.run(p, config: p.config.vcpuConfig(variant: variant), asKernel: asKernel)
    }

    private func exits(_ text: String, _ variant: Variant) throws -> [ExitReason?] {
        let p = try SVMText.parse(text, file: "t.svm")
        var out: [ExitReason?] = []
        _ = Runner.run(p, config: p.config.vcpuConfig(variant: variant), asKernel: true) { _, _, _, r in out.append(r.exit) }
        return out
    }

    /// L2 enters by VMRUN, so L1's root lacks L2's pages.
    private let enterL2 = """
        wrmsr efer 0x1d01
        wrmsr hsave_pa 0x40000
        vmcb 0x10000 intercepts=vmrun,vmmcall
        vmrun 0x10000

        """

    /// Userspace clears EFER.SVME in L2 (a forced leave inside KVM_SET_MSRS), then runs L1 on what L2 left.
    func testUserspaceForcedLeaveLivelocksOnlyOn61() throws {
        let p = enterL2 + "set_msrs efer=0xd01\nrun\n"
        let r61 = try run(p, .linux61)
        XCTAssertEqual(r61.violation?.code.description, "kvm-livelock")
        XCTAssertEqual(r61.violation?.step, 6)
        XCTAssertEqual(r61.lastRecord?.exit, .hang)
        // The VMM gave up on the vCPU: the next KVM_RUN is not issued.
        let after = try run(p + "run\n", .linux61)
        XCTAssertEqual(after.lastRecord?.ran, .skipped)
        XCTAssertEqual(after.lastRecord?.skip, .guestStopped)
        for v in [Variant.linux612, .merged, .prefix] {
            let r = try run(p, v)
            XCTAssertNil(r.violation, "\(v)")
            XCTAssertEqual(r.lastRecord?.exit, .intr, "\(v): L1 runs on until the VMM interrupts it")
        }
    }

    /// L2 clears SVME itself: L1 is entered with L2's registers on both kernels (l1-runs-l2-state
    /// first), and on 6.1 that entry never ends. Each NPF exit reads L1's CR3 back from vmcb01, which
    /// is what real 6.1.192's records show after the hang (0x1000, not L2's 0x3000).
    func testL2ClearingSvmeIsEnteredThenLivelocksOn61() throws {
        let p = enterL2 + "wrmsr efer 0xd01\n"
        XCTAssertEqual(try run(p, .linux61).violation?.code.description, "l1-runs-l2-state")
        XCTAssertEqual(try exits(p, .linux61).last, .hang)
        XCTAssertNil(try XCTUnwrap(exits(p, .linux612).last), "6.12 runs on")
        let k = try run(p, .linux61, asKernel: true)
        XCTAssertEqual(k.finalState.vcpu.cr3, 0x1000)
        XCTAssertEqual(k.finalState.vcpu.mode, .l1)
    }

    /// A KVM_SET_SREGS that changes CR4 resets the MMU (the reference's way out of the loop, real-kvm-tcg
    /// §5.3): the VMM can run the vCPU again and it goes on. One that puts back the CR3 the loop read
    /// back changes nothing (mmu_reset_needed), and the loop goes on.
    func testAnMmuResetEndsTheLoop() throws {
        let stuck = enterL2 + "set_msrs efer=0xd01\nrun\nset_regs rip=0x1000 rsp=0x8000\n"
        let same = try run(stuck + "set_sregs cr3=0x1000\nrun\n", .linux61, asKernel: true)
        XCTAssertEqual(same.lastRecord?.exit, .hang)
        let reset = try run(stuck + "set_sregs cr4=0x220\nrun\n", .linux61, asKernel: true)
        XCTAssertEqual(reset.lastRecord?.exit, .intr)
        XCTAssertEqual(reset.lastRecord?.ran, .userspace)
    }

    /// A leave that hands L1 back its own registers does not loop (real 6.1.192's campaign records: L2
    /// had been put on L1's registers by KVM_SET_NESTED_STATE). Nor does one whose LOAD_MMU_PGD request
    /// the next entry services, which writes the MMU's root into vmcb01 (KVM_SET_NESTED_STATE into L2
    /// and out again before any entry: corpus/oracle-confirm/set-nested-state-leave-before-entry-loads-pgd.svm,
    /// which agrees on real 6.1.192).
    func testNoLoopWithoutL2LeftoversOrWithTheRootReloaded() throws {
        let ownState = enterL2 + """
            snapshot A
            vmmcall
            snapshot B
            set_nested_state A flags=guest_mode,run_pending,gif_set
            run
            set_nested_state B flags=0
            wrmsr efer 0xd01

            """
        XCTAssertFalse(try exits(ownState, .linux61).contains(.hang))
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("corpus/oracle-confirm/set-nested-state-leave-before-entry-loads-pgd.svm")
        let pgd = try String(contentsOf: url, encoding: .utf8)
        XCTAssertFalse(try exits(pgd, .linux61).contains(.hang))
    }

    /// L2's VMMCALL that L1 does not intercept: #UD in L2 with intercept-vmmcall-in-l2 (6.12), the
    /// hypercall-patching loop without it (6.1, corpus/oracle-confirm/l2-vmmcall-unintercepted.svm),
    /// through the forced-emulation door too (emulated-svm-insns-l2-unintercepted.svm).
    func testUninterceptedL2VmmcallLoopsOnlyOn61() throws {
        // The native VMMCALL is judged by svm-insn-outcome first (the APM's #UD never comes); the
        // instruction checkpoint does not judge the forced-emulation door, so kvm-livelock reports that one.
        for (insn, first) in [("vmmcall", "svm-insn-outcome"), ("emulate vmmcall", "kvm-livelock")] {
            let p = "config fep=1\nwrmsr efer 0x1d01\nwrmsr hsave_pa 0x40000\nvmcb 0x10000 intercepts=vmrun\nvmrun 0x10000\n\(insn)\n"
            let r61 = try run(p, .linux61)
            XCTAssertEqual(r61.violation?.code.description, first, insn)
            XCTAssertEqual(r61.lastRecord?.exit, .hang, insn)
            XCTAssertEqual(r61.finalState.vcpu.mode, .l2, insn)
            let r612 = try run(p, .linux612)
            XCTAssertNil(r612.violation, insn)
            XCTAssertNil(r612.lastRecord?.exit ?? nil, insn)
            XCTAssertEqual(r612.lastRecord?.injected, 6, "\(insn): #UD in L2")
        }
    }

    func testTheIdParses() {
        XCTAssertEqual(InvariantID("kvm-livelock"), .kvmLivelock)
        XCTAssertEqual(InvariantID.kvmLivelock.description, "kvm-livelock")
    }
}
