import Foundation
import XCTest

/// The oracle's model runs on the oracle's host: QEMU's TCG has no NRIPS, so after L2's unintercepted
/// EFER.SVME clear KVM decodes the WRMSR at L2's RIP and L1 runs on in L2's code. Real 6.12.117's record
/// of the selftest seed shows it; a model with host NRIPS (RIP from vmcb01's stale NextRIP, L1's code)
/// disagrees at that step, so the comparison does look at RIP.
final class OracleHostTests: CLITestCase {
    func testTheForcedLeavesRipFollowsTheHostsNrips() throws {
        let root = OracleRecordsTests.root
        let seed = try String(contentsOf: root.appendingPathComponent("corpus/seeds/03-clear-efer-svme.svm"), encoding: .utf8)
        let record = try String(contentsOf: root.appendingPathComponent("corpus/oracle/6.12/corpus__seeds__03-clear-efer-svme.jsonl"),
                                encoding: .utf8)
        try write("p.svm", seed)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("rec"), withIntermediateDirectories: true)
        try write("rec/p.jsonl", record)
        try write("none.txt", "")
        let tcg = try svmfuzz("oracle", "p.svm", "--kernel", "6.12", "--records", "rec", "--known", "none.txt")
        XCTAssertEqual(tcg.status, 0, tcg.stdout)
        XCTAssertEqual(tcg.stdoutLines.first, "agree     p.svm (6 steps)")
        let amd = try svmfuzz("oracle", "p.svm", "--kernel", "6.12", "--records", "rec", "--known", "none.txt", "--host-nrips")
        XCTAssertEqual(amd.status, 1)
        XCTAssertEqual(amd.stdoutLines.first,
                       "DISAGREE  p.svm: step 5 (line 9) wrmsr efer 0xd01: rip_owner model=l1 kernel=l2")
    }
}
