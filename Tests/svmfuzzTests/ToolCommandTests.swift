import Foundation
import SVMFuzzKit
import SVMModel
import XCTest

final class ToolCommandTests: CLITestCase {
    func testEncodeDecodeRoundTrip() throws {
        let f = try write("clear.svm", Scenario.clearEferSvme)
        let e = try svmfuzz("encode", f, "-o", "clear.bin")
        XCTAssertEqual(e.status, 0)
        XCTAssertEqual(e.stdout, "")
        XCTAssertEqual(e.stderrLines, ["svmfuzz: warning: 1 expect line dropped (the byte encoding has no assertions)"])
        let bytes = try read("clear.bin")
        XCTAssertFalse(bytes.isEmpty)

        let d = try svmfuzz("decode", "clear.bin")
        XCTAssertEqual(d.status, 0)
        XCTAssertEqual(d.stderr, "")
        // The decoded text is the program without its expect line.
        let original = try SVMText.parse(Scenario.clearEferSvme, file: "clear.svm")
        let decoded = try SVMText.parse(d.stdout, file: "decoded.svm")
        XCTAssertEqual(decoded.operations, original.operations.filter {
            if case .expect = $0 { return false } else { return true }
        })
        XCTAssertEqual(d.stdoutLines.first, "wrmsr efer 0x1d01")
        XCTAssertEqual(d.stdoutLines.last, "wrmsr efer 0xd01")

        // Encoding the decoded text gives the same bytes, silently.
        try write("decoded.svm", d.stdout)
        let again = try svmfuzz("encode", "decoded.svm", "-o", "again.bin")
        XCTAssertEqual(again.status, 0)
        XCTAssertEqual(again.stderr, "")
        XCTAssertEqual(try read("again.bin"), bytes)
    }

    func testMinimizeShrinksAPaddedProgram() throws {
        let f = try write("padded.svm", Scenario.padded)
        let r = try svmfuzz("minimize", f, "--variant", "prefix")
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdoutLines
        XCTAssertEqual(lines.first, "# minimized from padded.svm: 16 → 5 operations, violation l1-runs-l2-state on prefix")
        XCTAssertEqual(Array(lines.dropFirst()).filter { !$0.hasPrefix("vmcb ") }, [
            "config variant=prefix",
            "wrmsr efer 0x1d01",
            "wrmsr hsave_pa 0x40000",
            "vmrun 0x10000",
            "wrmsr efer 0xd01",
        ])
        XCTAssertTrue(lines.contains { $0.hasPrefix("vmcb 0x10000 ") })

        // -o writes the program (which replays to the same violation) and prints only the header.
        let o = try svmfuzz("minimize", f, "--variant", "prefix", "-o", "min.svm")
        XCTAssertEqual(o.status, 0)
        XCTAssertEqual(o.stdoutLines, [lines[0]])
        XCTAssertEqual(String(decoding: try read("min.svm"), as: UTF8.self), r.stdout)
        let replay = try svmfuzz("replay", "min.svm")
        XCTAssertEqual(replay.status, 1)
        XCTAssertTrue(replay.lastLine.hasPrefix("VIOLATION l1-runs-l2-state at step 5 (line 7)"), replay.stdout)
    }

    func testMinimizeWithoutAViolationExitsOne() throws {
        let f = try write("padded.svm", Scenario.padded)
        let r = try svmfuzz("minimize", f, "--variant", "merged")
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderrLines, ["svmfuzz: padded.svm shows no violation on merged: nothing to minimize"])
    }

    func testDiffShowsTheFirstDifferingStep() throws {
        let f = try write("clear.svm", Scenario.clearEferSvme)
        let r = try svmfuzz("diff", f, "--variants", "prefix,merged")
        XCTAssertEqual(r.status, 0)
        let lines = r.stdoutLines
        XCTAssertEqual(lines[0], "first difference at step 5 (line 6): wrmsr efer 0xd01")
        XCTAssertEqual(lines[1], "steps 1-4 behave the same on both")
        let header = lines[2].split(separator: " ").map(String.init)
        XCTAssertEqual(header, ["prefix", "merged"])
        func row(_ name: String) -> [String]? {
            lines.first { $0.hasPrefix(name + " ") }?.split(separator: " ").map(String.init)
        }
        XCTAssertEqual(row("exit"), ["exit", "-", "shutdown", "*"])
        XCTAssertEqual(row("ioctl"), ["ioctl", "-", "ok", "*"])
        XCTAssertEqual(row("mode"), ["mode", "l1", "l1"])
        XCTAssertEqual(row("violation"), ["violation", "l1-runs-l2-state", "none", "*"])
        // Both sides are aligned: each value column starts at the same offset on every row.
        let mergedColumn = lines[2].range(of: "merged")!.lowerBound.utf16Offset(in: lines[2])
        let exitLine = lines.first { $0.hasPrefix("exit ") }!
        XCTAssertEqual(exitLine.range(of: "shutdown")!.lowerBound.utf16Offset(in: exitLine), mergedColumn)
        XCTAssertTrue(lines.last!.hasPrefix("prefix: VIOLATION l1-runs-l2-state at step 5 (line 6)"))
    }

    func testDiffWithoutDifference() throws {
        let f = try write("clear.svm", Scenario.clearEferSvme)
        let r = try svmfuzz("diff", f, "--variants", "merged,msr-hook")
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.stdoutLines, ["no difference in 6 steps"])
    }

    func testVariants() throws {
        let r = try svmfuzz("variants")
        XCTAssertEqual(r.status, 0)
        let lines = r.stdoutLines
        XCTAssertEqual(lines.count, 1 + Variant.allCases.count + 2)
        XCTAssertTrue(lines[0].hasPrefix("variant "), lines[0])
        let rows = Array(lines[1...Variant.allCases.count])
        for (line, v) in zip(rows, Variant.allCases) {
            XCTAssertTrue(line.hasPrefix(v.rawValue + " "), line)
            XCTAssertTrue(line.contains(" \(v.upstream) "), line)
            XCTAssertTrue(line.contains(" \(v.svmeClear.rawValue) "), line)
            let missing = KvmFixes.all.subtracting(v.fixes).names
            XCTAssertTrue(line.hasSuffix(" " + (missing.isEmpty ? "-" : missing.joined(separator: ","))), line)
        }
        XCTAssertEqual(lines.last, "fixes: " + KvmFixes.named.map(\.name).joined(separator: ", "))
        // Aligned: the upstream column starts at the same offset on every line.
        let offsets = zip(rows, Variant.allCases).map { line, v in
            line.range(of: v.upstream)!.lowerBound.utf16Offset(in: line)
        }
        XCTAssertEqual(Set(offsets).count, 1)
    }

    func testVariantsJSON() throws {
        let r = try svmfuzz("variants", "--json")
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("\"name\" : \"linux-6.12\""), r.stdout)
        XCTAssertTrue(r.stdout.contains("\"svmeClear\" : \"leave-silently\""), r.stdout)
        XCTAssertEqual(try svmfuzz("variants", "--names").stdoutLines, Variant.allCases.map(\.rawValue))
    }

    func testHuntFindsThePrefixFlaw() throws {
        let r = try svmfuzz("hunt", "--variant", "prefix", "--runs", "200000", "--seed", "1")
        XCTAssertEqual(r.status, 0, r.stderr)
        let last = r.lastLine
        XCTAssertTrue(last.hasPrefix("FOUND l1-runs-l2-state after "), r.stdout)
        XCTAssertTrue(last.hasSuffix(" s)"), last)
        XCTAssertTrue(r.stdout.contains("config variant=prefix"), "the program is printed above the verdict")
        let bin = dir.appendingPathComponent("findings/prefix/hunt-1.bin")
        XCTAssertTrue(FileManager.default.fileExists(atPath: bin.path))
        // The written input replays to the same violation.
        let replay = try svmfuzz("replay", "findings/prefix/hunt-1.bin", "--variant", "prefix")
        XCTAssertEqual(replay.status, 1)
        XCTAssertTrue(replay.stdoutLines.first?.hasPrefix("VIOLATION l1-runs-l2-state at step ") ?? false, replay.stdout)
        // Deterministic: the same seed finds it after the same number of executions.
        let again = try svmfuzz("hunt", "--variant", "prefix", "--runs", "200000", "--seed", "1")
        XCTAssertEqual(again.lastLine.split(separator: " ").prefix(4), last.split(separator: " ").prefix(4))
    }

    func testHuntEndsClean() throws {
        // One-byte inputs are single operations, which cannot break an invariant.
        let r = try svmfuzz("hunt", "--variant", "merged", "--runs", "500", "--seed", "7", "--max-len", "1")
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.stdoutLines, ["CLEAN 500 execs"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("findings").path))
    }

    func testHuntAndMinimizePrintJSONLinesForScripts() throws {
        func object(_ line: String) throws -> [String: Any] {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
        }
        let found = try object(try svmfuzz("hunt", "--variant", "prefix", "--runs", "200000", "--seed", "1", "--json").lastLine)
        XCTAssertEqual(found["result"] as? String, "found")
        XCTAssertEqual(found["invariant"] as? String, "l1-runs-l2-state")
        XCTAssertEqual(found["input"] as? String, "findings/prefix/hunt-1.bin")
        let clean = try svmfuzz("hunt", "--variant", "merged", "--runs", "500", "--seed", "7", "--max-len", "1", "--json")
        XCTAssertEqual(clean.stdoutLines.count, 1)
        XCTAssertEqual(try object(clean.lastLine)["execs"] as? Int, 500)

        let f = try write("padded.svm", Scenario.padded)
        let m = try object(try svmfuzz("minimize", f, "--variant", "prefix", "--json", "-o", "min.svm").lastLine)
        XCTAssertEqual(m["from"] as? Int, 16)
        XCTAssertEqual(m["to"] as? Int, 5)
        XCTAssertEqual(m["signature"] as? String, "l1-runs-l2-state")
        XCTAssertEqual(m["output"] as? String, "min.svm")
    }
}
