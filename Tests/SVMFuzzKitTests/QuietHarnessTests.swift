import Foundation
import XCTest
import SVMFuzzKit
import SVMModel

/// The fuzz harness runs its executor quiet (invariants skip building their message, so an input that
/// ends at a known issue allocates nothing) and replays a violation it reports to get the message: what
/// it reports is the same violation a replay with messages finds, text included.
final class QuietHarnessTests: XCTestCase {
    func testReportedViolationsCarryTheReplaysMessage() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("corpus/regressions/merged")
        let names = ["vmexit-restores-l1-smm-cr4-mce", "unrestorable-init-latched-past-stgi", "unrestorable-rsm-vmcb12-gpa"]
        var harness = FuzzHarness(variant: .merged)
        for name in names {
            let text = try String(contentsOf: dir.appendingPathComponent(name + ".svm"), encoding: .utf8)
            let program = try SVMText.parse(text, file: name)
            var loud = Executor(config: program.config.vcpuConfig(variant: .merged))
            var expected: Violation? = nil
            for op in program.operations where expected == nil {
                if loud.execute(op).violation != nil { expected = loud.stepViolation }
            }
            let bytes = ByteCodec.encode(program)
            let got = bytes.withUnsafeBytes { harness.run($0) }
            XCTAssertNotNil(expected, name)
            XCTAssertEqual(got, expected, name)
            XCTAssertFalse(got?.detail.isEmpty ?? true, "\(name): the reported violation has its message")
        }
    }

    func testQuietRunsSkipOnlyTheMessage() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("corpus/regressions/merged")
        let text = try String(contentsOf: dir.appendingPathComponent("unrestorable-init-latched-past-stgi.svm"), encoding: .utf8)
        let program = try SVMText.parse(text, file: "x")
        func run(quiet: Bool) -> Violation? {
            var ex = Executor(config: program.config.vcpuConfig(variant: .merged))
            ex.quiet = quiet
            for op in program.operations where ex.execute(op).violation != nil { return ex.stepViolation }
            return nil
        }
        let quiet = try XCTUnwrap(run(quiet: true)), loud = try XCTUnwrap(run(quiet: false))
        XCTAssertEqual(quiet.code, loud.code)
        XCTAssertEqual(quiet.step, loud.step)
        XCTAssertEqual(quiet.detail, "")
        XCTAssertNotEqual(loud.detail, "")
    }
}
