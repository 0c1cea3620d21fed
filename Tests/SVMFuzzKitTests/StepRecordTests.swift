import XCTest
import SVMFuzzKit
import SVMModel

/// What Executor.execute returns: a fixed-size record of each operation.
final class StepRecordTests: XCTestCase {
    private func records(_ text: String, _ variant: Variant = .merged) throws -> [StepRecord] {
        var out: [StepRecord] = []
        _ = Runner.run(try SVMText.parse(text, file: "t.svm"), variant: variant) { _, _, _, r in out.append(r) }
        return out
    }

    func testTheRecordHoldsNoReferences() {
        // Trivially copyable: returning one per operation allocates and retains nothing.
        XCTAssertTrue(_isPOD(StepRecord.self))
        XCTAssertTrue(_isPOD(ViolationCode.self))
    }

    func testAGuestInstructionRecordsWhereItRanTheVmexitAndTheOwners() throws {
        let r = try records("""
            wrmsr efer 0x1d01
            wrmsr hsave_pa 0x40000
            vmcb 0x10000 intercepts=vmrun,vmmcall asid=1
            vmrun 0x10000
            vmmcall
            """)
        XCTAssertEqual(r.map(\.ran), [.l1, .l1, .userspace, .l1, .l2])
        XCTAssertEqual(r[3].mode, .l2)
        XCTAssertEqual(r[3].visibleOwners, Array(repeating: .l2, count: 8))
        XCTAssertEqual(r[4].vmexitCode, SVMExit.vmmcall)
        XCTAssertEqual(r[4].mode, .l1)
        XCTAssertNil(r[4].exit, "KVM re-entered L1: KVM_RUN did not return")
        XCTAssertNil(r[4].violation)
    }

    func testARestoreRecordsEachIoctlAndTheRuleThatRefusedIt() throws {
        // Snapshot L2, then leave SVM in L1: the nested state needs EFER.SVME, which SREGS put first.
        let r = try records("""
            wrmsr efer 0x1d01
            wrmsr hsave_pa 0x40000
            vmcb 0x10000 intercepts=vmrun,vmmcall asid=1
            vmrun 0x10000
            snapshot A
            restore A order=nested,sregs,regs,msrs,events
            """)
        let restore = r[5]
        XCTAssertEqual(restore.exit, nil, "the snapshot already left KVM_RUN")
        XCTAssertEqual(restore.ioctlResult, .ok)
        XCTAssertEqual(restore.ioctls.count, 5)
        XCTAssertEqual(restore.ioctls[0].kind, .setNestedState)
        XCTAssertEqual(restore.shownIoctl, .ok)
        let snapshot = r[4]
        XCTAssertEqual(snapshot.exit, .intr)
        XCTAssertEqual(snapshot.ioctls[0].kind, .getState)

        let refused = try records("""
            set_sregs efer=0x401 cr0=0x80050033
            """)
        XCTAssertEqual(refused[0].ioctlResult, .einval)
        XCTAssertEqual(refused[0].ioctls[0].refusal, .sregs(.eferLma))
    }

    func testAViolationIsInTheRecordWithItsReason() throws {
        func entered(efer: String, _ variant: Variant) throws -> [StepRecord] {
            try records("""
                wrmsr efer 0x1d01
                wrmsr hsave_pa 0x40000
                vmcb 0x10000 intercepts=vmrun,vmmcall asid=1 efer=\(efer)
                vmrun 0x10000
                run
                """, variant)
        }
        // vmcb12 EFER with LMA and no LME: zoo-B30 (merged without 1c4c84a643b7) loads it.
        let r = try entered(efer: "0x1401", .zooB30)
        XCTAssertEqual(r[4].violation, ViolationCode(id: .unrestorableState, reason: .refused(.setSregs, .sregs(.eferLma))))
        XCTAssertEqual(r[4].exit, .intr)
        // With LME and paging but no LMA, merged loads it as well.
        XCTAssertEqual(try entered(efer: "0x1901", .merged)[4].violation,
                       ViolationCode(id: .unrestorableState, reason: .refused(.setSregs, .sregs(.longModeWithoutLma))))
    }

    func testSkipsSayWhy() throws {
        let r = try records("""
            triple_fault
            vmmcall
            run
            """)
        XCTAssertEqual(r[0].exit, .shutdown)
        XCTAssertEqual(r[1].ran, .skipped)
        XCTAssertEqual(r[1].skip, .guestStopped)
        XCTAssertEqual(r[2].skip, .guestStopped)
    }
}
