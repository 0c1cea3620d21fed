import XCTest
import SVMFuzzKit
import SVMModel

/// Invariant ids, reasons and patterns are parsed into types, and `matches` is the one comparison.
final class ViolationPatternTests: XCTestCase {
    func testEveryIdRoundTrips() {
        var ids: [InvariantID] = [.l1RunsL2State, .spuriousTripleFault, .restoreMismatch, .unrestorableState, .gifChanged,
                                  .vmcb12Unchecked, .hsavePaRules, .interceptNotReflected, .ioctlAcceptsInvalid,
                                  .vmrunOutcome, .smmL1State]
        ids += WarnSite.allCases.map(InvariantID.kvmWarn) + ConsistencyRule.allCases.map(InvariantID.inconsistentState)
        for id in ids { XCTAssertEqual(InvariantID(Substring(id.description)), id, id.description) }
        XCTAssertNil(InvariantID("kvm-warn"))
        XCTAssertNil(InvariantID("l1-runs-l2-state:x"))
        XCTAssertNil(InvariantID("no-such-invariant"))
    }

    func testReasonsRoundTrip() {
        let reasons: [ViolationReason] = [.refused(.setSregs, .sregs(.eferLma)), .refused(.setRegs, nil),
                                          .refused(.setNestedState, .nestedState(.vmcbPa)), .nextEntry(.nextRip), .syncRegs]
        for r in reasons { XCTAssertEqual(ViolationReason(Substring(r.description)), r, r.description) }
        XCTAssertEqual(ViolationReason("KVM_SET_SREGS:efer-lma")?.description, "KVM_SET_SREGS:efer-lma")
        XCTAssertNil(ViolationReason("KVM_SET_SREGS:no-such-rule"))
    }

    func testKnownIssuesFileParsesAndMatchesByIdAndReason() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("corpus/known-issues.txt")
        let known = try FuzzHarness.parseKnownIssues(String(contentsOf: url, encoding: .utf8))
        XCTAssertEqual(known.count, 10)
        let harness = FuzzHarness(variant: .merged, known: known)
        XCTAssertTrue(harness.isKnown(ViolationCode(id: .unrestorableState, reason: .refused(.setSregs, .sregs(.eferLma)))))
        XCTAssertTrue(harness.isKnown(ViolationCode(id: .smmL1State)))
        XCTAssertTrue(harness.isKnown(ViolationCode(id: .unrestorableState, reason: .nextEntry(.initDelivery))))
        XCTAssertFalse(harness.isKnown(ViolationCode(id: .unrestorableState, reason: .nextEntry(.rip))))
        XCTAssertFalse(harness.isKnown(ViolationCode(id: .unrestorableState, reason: .refused(.setSregs, .sregs(.cr4)))))
        XCTAssertFalse(harness.isKnown(ViolationCode(id: .unrestorableState)))
        // The merged rule's sync_regs finding is known by its reason alone: v2's KVM_SET_SREGS one is not.
        XCTAssertTrue(harness.isKnown(ViolationCode(id: .spuriousTripleFault, reason: .syncRegs)))
        XCTAssertFalse(harness.isKnown(ViolationCode(id: .spuriousTripleFault)))
        XCTAssertThrowsError(try FuzzHarness.parseKnownIssues("unrestorable-state KVM_SET_SREGS:nonsense\n"))
    }

    func testAFamilyMatchesEveryIdOfIt() throws {
        let p = try XCTUnwrap(ViolationPattern("kvm-warn"))
        XCTAssertTrue(p.matches(ViolationCode(id: .kvmWarn(.freeNestedNotVmcb01))))
        XCTAssertFalse(p.matches(ViolationCode(id: .smmL1State)))
        XCTAssertEqual(ExpectedViolation("none"), ExpectedViolation.none)
        XCTAssertTrue(ExpectedViolation("none")!.matches(nil))
        XCTAssertNil(ExpectedViolation("kvm-warn:no-such-site"))
    }
}
