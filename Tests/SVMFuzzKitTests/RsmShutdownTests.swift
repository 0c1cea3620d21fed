import Foundation
import XCTest
import SVMFuzzKit
import SVMModel

/// rsm-shutdown: a failed RSM leaves the vCPU out of guest mode (RsmShutdown.swift).
final class RsmShutdownTests: XCTestCase {
    private func run(_ text: String, _ variant: Variant) throws -> RunReport {
        let p = try SVMText.parse(text, file: "t.svm")
        return Runner.run(p, config: p.config.vcpuConfig(variant: variant))
    }

    /// L2 runs under a vmcb12 with `intercepts`, an SMI is taken in L2, SMM code corrupts the saved CR4
    /// (a reserved bit: rsm_enter_protected_mode's kvm_set_cr4 refuses it), and RSM goes back to L2.
    private func rsmWithBadCr4(intercepts: String) -> String {
        """
        wrmsr efer 0x1d01
        wrmsr hsave_pa 0x40000
        vmcb 0x10000 intercepts=\(intercepts) asid=1
        vmrun 0x10000
        smi
        smram cr4=0x800020
        rsm
        """
    }

    func testFiresWhereTheShutdownBecomesL2sAndNotWhereL1ShutsDown() throws {
        for intercepts in ["vmrun,vmmcall,shutdown", "vmrun,vmmcall"] {
            let p = rsmWithBadCr4(intercepts: intercepts)
            // zoo-B13 (without 3f6821aa147b): still in L2 after the failed RSM.
            let r = try run(p, .zooB13)
            XCTAssertEqual(r.violation?.code.description, "rsm-shutdown rsm:smram-state", intercepts)
            XCTAssertEqual(r.violation?.step, 7)
            // merged: L1 shuts down (KVM_EXIT_SHUTDOWN outside guest mode), no #VMEXIT(SHUTDOWN).
            let m = try run(p, .merged)
            XCTAssertNil(m.violation, "\(intercepts): \(String(describing: m.violation))")
            XCTAssertEqual(m.lastRecord?.exit, .shutdown)
            XCTAssertEqual(m.finalState.vcpu.mode, .l1)
            XCTAssertNil(m.lastRecord?.vmexitCode)
        }
    }

    func testSilentOnAnRsmThatSucceedsOrRunsOutsideSmm() throws {
        // RSM back into L2 with SMRAM as the SMI saved it, and RSM in L1 (#UD): no shutdown at all.
        let ok = rsmWithBadCr4(intercepts: "vmrun,vmmcall").replacingOccurrences(of: "smram cr4=0x800020\n", with: "")
        for v in [Variant.zooB13, .merged] {
            XCTAssertNil(try run(ok, v).violation, "\(v)")
            XCTAssertEqual(try run(ok, v).finalState.vcpu.mode, .l2)
            XCTAssertNil(try run("wrmsr efer 0x1d01\nrsm\n", v).violation)
        }
    }

    func testTheFailureStageIsAReasonKnownIssuesCanName() {
        XCTAssertEqual(ViolationReason("rsm:l2-entry"), .rsm(.l2Entry))
        XCTAssertEqual(ViolationReason("rsm:smram-state")?.description, "rsm:smram-state")
        XCTAssertNil(ViolationReason("rsm:other"))
    }

    /// On corpus/, it fires only where it should: zoo-B13's regression, on zoo-B13 and on Debian's 6.1
    /// (which lacks 3f6821aa147b), at the RSM; and the merged regression of its known issue (an RSM whose
    /// re-entry into L2 fails) on every configuration.
    func testFiresOnTheCorpusOnlyAtZooB13AndItsKnownIssue() throws {
        let r = try CorpusFirings.of([.rsmShutdown])
        XCTAssertGreaterThanOrEqual(r.programs, 60)
        let b13 = "regressions/zoo-B13/kvm-warn-nested_svm_vmexit-nested_run_pending-319bd475.svm"
        let known = "regressions/merged/rsm-shutdown-l2-entry-failed.svm"
        let where_ = r.firings.map { $0.components(separatedBy: ": VIOLATION")[0] }
        XCTAssertEqual(where_, ["\(known) own step 7", "\(known) merged step 7", "\(known) linux-6.1 step 7",
                                "\(known) linux-6.1 on TCG step 7", "\(known) linux-6.12 step 7", "\(known) linux-6.12 on TCG step 7",
                                "\(b13) own step 7", "\(b13) linux-6.1 step 7", "\(b13) linux-6.1 on TCG step 7"],
                       r.firings.joined(separator: "\n"))
        for f in r.firings {
            XCTAssertTrue(f.contains(f.hasPrefix(b13) ? "(loading the SMRAM state into L2)" : "(re-entering L2)"), f)
        }
    }
}
