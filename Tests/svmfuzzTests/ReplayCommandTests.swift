import Foundation
import XCTest

final class ReplayCommandTests: CLITestCase {
    func testHelpForEverySubcommand() throws {
        let root = try svmfuzz("--help")
        XCTAssertEqual(root.status, 0)
        for sub in ["replay", "decode", "encode", "minimize", "diff", "variants", "hunt"] {
            XCTAssertTrue(root.stdout.contains("  \(sub) "), "root help lists \(sub)")
            let r = try svmfuzz(sub, "--help")
            XCTAssertEqual(r.status, 0, sub)
            XCTAssertTrue(r.stdout.contains("USAGE: svmfuzz \(sub)"), "\(sub) --help: \(r.stdout)")
            XCTAssertEqual(r.stderr, "")
        }
        let replay = try svmfuzz("replay", "--help")
        XCTAssertTrue(replay.stdout.contains("A violation that an 'expect"), "replay --help explains expected violations")
    }

    func testReplayViolatesOnPrefix() throws {
        let f = try write("clear.svm", Scenario.clearEferSvme)
        let r = try svmfuzz("replay", f, "--variant", "prefix")
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdoutLines, [
            "VIOLATION l1-runs-l2-state at step 5 (line 6): KVM entered L1 while rsp (and maybe more) holds L2's value",
            "EXPECT FAILED line 7: wanted exit=shutdown, got exit=none",
        ])
        XCTAssertEqual(r.stderr, "")
    }

    func testReplayCleanOnMerged() throws {
        let f = try write("clear.svm", Scenario.clearEferSvme)
        let r = try svmfuzz("replay", f)
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.stdoutLines, ["CLEAN (6 steps)"])
    }

    func testFailedExpectAloneExitsOne() throws {
        let f = try write("e.svm", "wrmsr efer 0x1d01\nexpect efer=0xd01 mode=l2\n")
        let r = try svmfuzz("replay", f)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdoutLines, [
            "CLEAN (2 steps)",
            "EXPECT FAILED line 2: wanted mode=l2, got mode=l1",
            "EXPECT FAILED line 2: wanted efer=0xd01, got efer=0x1d01",
        ])
    }

    func testExpectedViolationIsNotAFailure() throws {
        let f = try write("x.svm", Scenario.clearEferSvme.replacingOccurrences(
            of: "expect exit=shutdown", with: "expect violation=l1-runs-l2-state"))
        let r = try svmfuzz("replay", f, "--variant", "prefix")
        XCTAssertEqual(r.status, 0, r.stdout)
        XCTAssertEqual(r.stdoutLines, [
            "expected violation: the expect on line 7 names it",
            "VIOLATION l1-runs-l2-state at step 5 (line 6): KVM entered L1 while rsp (and maybe more) holds L2's value",
        ])
        // The same expectation fails on merged, where nothing is violated.
        let m = try svmfuzz("replay", f, "--variant", "merged")
        XCTAssertEqual(m.status, 1)
        XCTAssertEqual(m.lastLine, "EXPECT FAILED line 7: wanted violation=l1-runs-l2-state, got violation=none")
    }

    func testConfigLineChoosesTheVariantAndOptionOverridesIt() throws {
        let f = try write("c.svm", "config variant=prefix\n" + Scenario.clearEferSvme)
        XCTAssertEqual(try svmfuzz("replay", f).status, 1)
        XCTAssertEqual(try svmfuzz("replay", f, "--variant", "merged").status, 0)
    }

    func testFixesOptionComposesWithTheVariant() throws {
        let f = try write("c.svm", "config variant=prefix\n" + Scenario.clearEferSvme)
        // Without c513f484c558, clearing SVME does not leave guest mode: L2 goes on with SVME clear.
        let r = try svmfuzz("replay", f, "--fixes", "-leave-nested-on-svme-clear")
        XCTAssertTrue(r.stdoutLines[0].hasPrefix("VIOLATION inconsistent-state:guest-mode-svme at step 5"), r.stdout)
        // The stable kernels predate the series: L1 runs on with L2's state, as on prefix.
        let k = try svmfuzz("replay", f, "--variant", "linux-6.12")
        XCTAssertTrue(k.stdoutLines[0].hasPrefix("VIOLATION l1-runs-l2-state at step 5"), k.stdout)
        let bad = try svmfuzz("replay", f, "--fixes", "-no-such-fix")
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.hasPrefix("svmfuzz: --fixes: unknown fix 'no-such-fix' (expected "), bad.stderr)
    }

    /// The exception a step delivered has a column, the last but one: a VMRUN without EFER.SVME is #UD
    /// (6) in L1; the WRMSR after it delivers none.
    func testTraceShowsTheDeliveredException() throws {
        let f = try write("ud.svm", "vmrun 0x10000\nwrmsr efer 0x1d01\n")
        let r = try svmfuzz("replay", f, "--trace")
        XCTAssertEqual(r.status, 0, r.stdout)
        XCTAssertEqual(r.stdoutLines[0].split(separator: " ").suffix(2), ["exc", "requests"])
        func exc(_ step: String) -> String? {
            r.stdoutLines.first { $0.hasPrefix(step + " ") }?.split(separator: " ").dropLast().last.map(String.init)
        }
        XCTAssertEqual(exc("1"), "6")
        XCTAssertEqual(exc("2"), "-")
    }

    func testTrace() throws {
        let f = try write("clear.svm", Scenario.clearEferSvme)
        let r = try svmfuzz("replay", f, "--variant", "prefix", "--trace")
        XCTAssertEqual(r.status, 1)
        let lines = r.stdoutLines
        XCTAssertTrue(lines[0].hasPrefix("step  line  operation"), lines[0])
        for column in ["ran", "exit", "mode", "gif", "efer", "ioctl", "exc", "requests"] {
            XCTAssertTrue(lines[0].contains(column), column)
        }
        func row(_ prefix: String) -> [String]? {
            lines.first { $0.hasPrefix(prefix) }?.split(separator: " ").map(String.init)
        }
        XCTAssertEqual(row("4 ").map { Array($0.prefix(9)) }, ["4", "5", "vmrun", "0x10000", "l1", "-", "l2", "1", "0x1d01"])
        XCTAssertEqual(row("5 ").map { Array($0.prefix(10)) }, ["5", "6", "wrmsr", "efer", "0xd01", "l2", "-", "l1", "1", "0xd01"])
        XCTAssertTrue(lines.contains { $0.trimmingCharacters(in: .whitespaces) ==
            "owners rip=l2 rsp=l2 rax=l2 rflags=l2 cr0=l2 cr3=l2 cr4=l2 efer=l2" })
        XCTAssertTrue(lines.contains { $0.hasPrefix("      ") && $0.contains("VIOLATION l1-runs-l2-state at step 5") })
        XCTAssertEqual(lines.suffix(2), [
            "VIOLATION l1-runs-l2-state at step 5 (line 6): KVM entered L1 while rsp (and maybe more) holds L2's value",
            "EXPECT FAILED line 7: wanted exit=shutdown, got exit=none",
        ])

        // On merged the L2 write shuts L1 down: KVM_RUN returns with KVM_EXIT_SHUTDOWN.
        let m = try svmfuzz("replay", f, "--trace")
        let shutdown = m.stdoutLines.first { $0.hasPrefix("5 ") }?.split(separator: " ").map(String.init)
        XCTAssertEqual(shutdown.map { Array($0.prefix(11)) }, ["5", "6", "wrmsr", "efer", "0xd01", "l2", "shutdown", "l1", "1", "0xd01", "ok"])
        XCTAssertEqual(m.lastLine, "CLEAN (6 steps)")
    }

    func testTraceShowsSkippedInstructionsAfterShutdown() throws {
        let f = try write("s.svm", "triple_fault\nstgi\nreset\nstgi\n")
        let r = try svmfuzz("replay", f, "--trace")
        XCTAssertEqual(r.status, 0, r.stdout)
        let ran = r.stdoutLines.dropFirst().filter { $0.first?.isNumber == true }
            .map { $0.split(separator: " ").map(String.init) }
            .map { $0[3] }
        XCTAssertEqual(ran, ["l1", "skipped", "userspace", "l1"], r.stdout)
        XCTAssertTrue(r.stdout.contains("shutdown"))
    }

    func testJSONLines() throws {
        let f = try write("clear.svm", Scenario.clearEferSvme)
        let r = try svmfuzz("replay", f, "--variant", "prefix", "--json")
        XCTAssertEqual(r.status, 1)
        // One object per line: the step records, then the verdict.
        let lines = try r.stdoutLines.map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], $0)
        }
        XCTAssertEqual(lines.count, 7)
        let doc = try XCTUnwrap(lines.last)
        XCTAssertEqual(doc["verdict"] as? String, "violation")
        XCTAssertEqual(doc["variant"] as? String, "prefix")
        XCTAssertEqual(doc["format"] as? String, "svm")
        XCTAssertEqual(doc["exitStatus"] as? Int, 1)
        let v = try XCTUnwrap(doc["violation"] as? [String: Any])
        XCTAssertEqual(v["id"] as? String, "l1-runs-l2-state")
        XCTAssertEqual(v["step"] as? Int, 5)
        XCTAssertEqual(v["line"] as? Int, 6)
        let expects = try XCTUnwrap(doc["expectFailures"] as? [[String: Any]])
        XCTAssertEqual(expects.first?["text"] as? String, "EXPECT FAILED line 7: wanted exit=shutdown, got exit=none")
        let steps = Array(lines.dropLast())
        XCTAssertEqual(steps[3]["operation"] as? String, "vmrun 0x10000")
        XCTAssertEqual(steps[3]["mode"] as? String, "l2")
        XCTAssertEqual((steps[3]["owners"] as? [String: String])?["rip"], "l2")
        XCTAssertEqual((steps[4]["violation"] as? [String: Any])?["id"] as? String, "l1-runs-l2-state")

        let clean = try svmfuzz("replay", f, "--json")
        XCTAssertEqual(clean.status, 0)
        let last = try XCTUnwrap(clean.stdoutLines.last)
        let c = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        XCTAssertEqual(c["verdict"] as? String, "clean")
    }

    func testGuestMemoryFullIsASkippedStep() throws {
        // Eight pages fit in the model's guest memory; the ninth write is skipped, and says why.
        let writes = (0..<9).map { "vmcb 0x\(String(0x10000 + $0 * 0x1000, radix: 16)) intercepts=vmrun asid=1" }
        let f = try write("full.svm", writes.joined(separator: "\n") + "\n")
        let r = try svmfuzz("replay", f, "--json")
        XCTAssertEqual(r.status, 0)
        let steps = try r.stdoutLines.dropLast().map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(steps.map { $0["ran"] as? String }, Array(repeating: "userspace", count: 8) + ["skipped"])
        XCTAssertEqual(steps.last?["skip"] as? String, "guest-memory-full")
        let t = try svmfuzz("replay", f, "--trace")
        XCTAssertTrue(t.stdout.contains("skipped: guest-memory-full"), t.stdout)
    }

    func testReplayOfRawBytes() throws {
        let f = try write("clear.svm", Scenario.clearEferSvme)
        let e = try svmfuzz("encode", f, "-o", "clear.bin")
        XCTAssertEqual(e.status, 0)
        let r = try svmfuzz("replay", "clear.bin", "--variant", "prefix")
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdoutLines, ["VIOLATION l1-runs-l2-state at step 5: KVM entered L1 while rsp (and maybe more) holds L2's value"])
        XCTAssertEqual(try svmfuzz("replay", "clear.bin").lastLine, "CLEAN (5 steps)")
    }
}
