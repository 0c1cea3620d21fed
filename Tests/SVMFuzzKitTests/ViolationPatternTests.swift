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
                                          .refused(.setNestedState, .nestedState(.vmcbPa)), .nextEntry(.nextRip), .syncRegs,
                                          .rsm(.l2Entry), .rsm(.smramState)]
        for r in reasons { XCTAssertEqual(ViolationReason(Substring(r.description)), r, r.description) }
        XCTAssertEqual(ViolationReason("KVM_SET_SREGS:efer-lma")?.description, "KVM_SET_SREGS:efer-lma")
        XCTAssertNil(ViolationReason("KVM_SET_SREGS:no-such-rule"))
    }

    func testKnownIssuesFileParsesAndMatchesByIdAndReason() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("corpus/known-issues.txt")
        let known = try FuzzHarness.parseKnownIssues(String(contentsOf: url, encoding: .utf8))
        XCTAssertEqual(known.count, 13)
        let harness = FuzzHarness(variant: .merged, known: known)
        XCTAssertTrue(harness.isKnown(ViolationCode(id: .unrestorableState, reason: .refused(.setSregs, .sregs(.longModeWithoutLma)))))
        // LMA without LME is fixed upstream (zoo-B30), no longer a known issue.
        XCTAssertFalse(harness.isKnown(ViolationCode(id: .unrestorableState, reason: .refused(.setSregs, .sregs(.eferLma)))))
        // LMA with LME but without paging (RSM into L2) is known, and does not hide B30's.
        XCTAssertTrue(harness.isKnown(ViolationCode(id: .unrestorableState, reason: .refused(.setSregs, .sregs(.eferLmaWithoutPaging)))))
        XCTAssertTrue(harness.isKnown(ViolationCode(id: .smmL1State)))
        XCTAssertTrue(harness.isKnown(ViolationCode(id: .unrestorableState, reason: .nextEntry(.initDelivery))))
        XCTAssertFalse(harness.isKnown(ViolationCode(id: .unrestorableState, reason: .nextEntry(.rip))))
        // NextRIP written after the cached-vmcb12 sync is known; B26's missing sync (next_rip) is not.
        XCTAssertTrue(harness.isKnown(ViolationCode(id: .unrestorableState, reason: .nextEntry(.nextRipAfterSync))))
        XCTAssertFalse(harness.isKnown(ViolationCode(id: .unrestorableState, reason: .nextEntry(.nextRip))))
        XCTAssertFalse(harness.isKnown(ViolationCode(id: .unrestorableState, reason: .refused(.setSregs, .sregs(.cr4)))))
        XCTAssertFalse(harness.isKnown(ViolationCode(id: .unrestorableState)))
        // The merged rule's sync_regs finding is known by its reason alone: v2's KVM_SET_SREGS one is not.
        XCTAssertTrue(harness.isKnown(ViolationCode(id: .spuriousTripleFault, reason: .syncRegs)))
        XCTAssertFalse(harness.isKnown(ViolationCode(id: .spuriousTripleFault)))
        // A failed RSM into L2 whose re-entry failed is known; the one whose SMRAM load failed (B13) is not.
        XCTAssertTrue(harness.isKnown(ViolationCode(id: .rsmShutdown, reason: .rsm(.l2Entry))))
        XCTAssertFalse(harness.isKnown(ViolationCode(id: .rsmShutdown, reason: .rsm(.smramState))))
        XCTAssertThrowsError(try FuzzHarness.parseKnownIssues("unrestorable-state KVM_SET_SREGS:nonsense upstream=not-known\n"))
    }

    /// Every entry states its upstream status with a source; the parser is strict, its errors one line.
    func testKnownIssuesCarryTheirUpstreamStatus() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("corpus/known-issues.txt")
        let issues = try KnownIssues.parse(String(contentsOf: url, encoding: .utf8), file: "corpus/known-issues.txt")
        let smm = try XCTUnwrap(issues.first { $0.pattern.description == "smm-l1-state" })
        XCTAssertEqual(smm.upstream, .reported("bugzilla.kernel.org/220964"))
        XCTAssertEqual(smm.upstream.description, "known upstream: bugzilla.kernel.org/220964")
        XCTAssertEqual(issues.first { $0.pattern.description == "unrestorable-state KVM_SET_SREGS:cr0" }?.upstream, .notKnown)
        // The merged series' own sync_regs flaw: no upstream report (known-issues.txt says what was searched).
        XCTAssertEqual(issues.first { $0.pattern.description == "spurious-triple-fault KVM_RUN:sync_regs" }?.upstream,
                       .notKnown)
        for i in issues { XCTAssertEqual(UpstreamStatus(Substring(i.upstream.field)), i.upstream) }

        let fixed = try KnownIssues.parse("# c\n\nkvm-warn upstream=fixed:1c4c84a643b7  # why\n", file: "k.txt")
        XCTAssertEqual(fixed, [KnownIssue(pattern: try XCTUnwrap(ViolationPattern("kvm-warn")),
                                          upstream: .fixed(commit: "1c4c84a643b7"), line: 3)])
        for (text, line) in [("smm-l1-state\n", 1), ("\nsmm-l1-state upstream=maybe\n", 2),
                             ("smm-l1-state upstream=fixed:abc\n", 1), ("smm-l1-state upstream=reported:\n", 1),
                             ("no-such-id upstream=not-known\n", 1), ("upstream=not-known\n", 1),
                             ("unrestorable-state KVM_SET_SREGS:cr0 x upstream=not-known\n", 1)] {
            XCTAssertThrowsError(try KnownIssues.parse(text, file: "k.txt"), text) { e in
                let d = "\(e)"
                XCTAssertTrue(d.hasPrefix("k.txt:\(line): expected `<invariant-id> [<reason>] upstream="), d)
                XCTAssertFalse(d.contains("\n"), d)
            }
        }
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
