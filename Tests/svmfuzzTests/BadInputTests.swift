import Foundation
import XCTest
import SVMModel

/// Every kind of bad input: one line on stderr, exit 2, never a crash or a backtrace.
final class BadInputTests: CLITestCase {
    func testUnreadableFile() throws {
        assertBadInput(try svmfuzz("replay", "missing.svm"), "svmfuzz: cannot read 'missing.svm': No such file or directory")
        assertBadInput(try svmfuzz("decode", "missing.bin"), "svmfuzz: cannot read 'missing.bin': No such file or directory")
        assertBadInput(try svmfuzz("minimize", "missing.bin"), "svmfuzz: cannot read 'missing.bin': No such file or directory")
        assertBadInput(try svmfuzz("diff", "missing.svm", "--variants", "prefix,merged"),
                       "svmfuzz: cannot read 'missing.svm': No such file or directory")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("adir.svm"), withIntermediateDirectories: true)
        assertBadInput(try svmfuzz("replay", "adir.svm"), "svmfuzz: cannot read 'adir.svm': Is a directory")
    }

    func testBadSyntaxNamesFileAndLine() throws {
        let f = try write("bad.svm", "# a comment\nwrmsr efer 0x1d01\nvmrun\n")
        let r = try svmfuzz("replay", f)
        assertBadInput(r, r.stderrLines.first ?? "<none>")
        XCTAssertTrue(r.stderr.hasPrefix("bad.svm:3: "), r.stderr)
        for sub in [["minimize", f], ["encode", f, "-o", "x.bin"], ["diff", f, "--variants", "prefix,merged"]] {
            let s = try svmfuzz(sub)
            assertBadInput(s, r.stderrLines.first ?? "<none>")
        }
    }

    func testUnknownOperation() throws {
        let f = try write("op.svm", "wrmsr efer 0x1d01\nfrobnicate 1\n")
        let r = try svmfuzz("replay", f)
        assertBadInput(r, r.stderrLines.first ?? "<none>")
        XCTAssertTrue(r.stderr.hasPrefix("op.svm:2: unknown operation 'frobnicate'"), r.stderr)
    }

    func testUnknownField() throws {
        let f = try write("field.svm", "vmcb 0x10000 colour=blue\n")
        let r = try svmfuzz("replay", f)
        assertBadInput(r, r.stderrLines.first ?? "<none>")
        XCTAssertTrue(r.stderr.hasPrefix("field.svm:1: unknown field 'colour'"), r.stderr)
    }

    func testNumberOutOfRange() throws {
        let f = try write("num.svm", "\nset_regs rip=0x10000000000000000\n")
        let r = try svmfuzz("replay", f)
        assertBadInput(r, r.stderrLines.first ?? "<none>")
        XCTAssertTrue(r.stderr.hasPrefix("num.svm:2: "), r.stderr)
        XCTAssertTrue(r.stderr.contains("0x10000000000000000"), r.stderr)
    }

    func testUnknownVariant() throws {
        let f = try write("ok.svm", Scenario.clearEferSvme)
        let expected = "svmfuzz: unknown variant 'x' (expected one of: " + Variant.allCases.map(\.rawValue).joined(separator: ", ") + ")"
        assertBadInput(try svmfuzz("replay", f, "--variant", "x"), expected)
        assertBadInput(try svmfuzz("minimize", f, "--variant", "x"), expected)
        assertBadInput(try svmfuzz("hunt", "--variant", "x", "--runs", "1"), expected)
        assertBadInput(try svmfuzz("diff", f, "--variants", "prefix,x"), expected)
    }

    func testBadVariantsList() throws {
        let f = try write("ok.svm", Scenario.clearEferSvme)
        for list in ["prefix", "prefix,merged,msr-hook", "prefix,", ","] {
            assertBadInput(try svmfuzz("diff", f, "--variants", list),
                           "svmfuzz: --variants takes two variants separated by a comma, e.g. prefix,merged (got '\(list)')")
        }
    }

    func testBadNumbersInOptions() throws {
        assertBadInput(try svmfuzz("hunt", "--variant", "prefix", "--runs", "abc"),
                       "svmfuzz hunt: The value 'abc' is invalid for '--runs <runs>' (see 'svmfuzz hunt --help')")
        assertBadInput(try svmfuzz("hunt", "--variant", "prefix", "--runs", "0"),
                       "svmfuzz hunt: --runs must be at least 1 (got 0)")
        assertBadInput(try svmfuzz("hunt", "--variant", "prefix", "--seconds", "0"),
                       "svmfuzz hunt: --seconds must be a positive number of seconds (got 0.0)")
        assertBadInput(try svmfuzz("hunt", "--variant", "prefix", "--max-len", "0"),
                       "svmfuzz hunt: --max-len must be between 1 and 1048576 (got 0)")
        assertBadInput(try svmfuzz("hunt", "--variant", "prefix", "--seed", "0x"),
                       "svmfuzz hunt: The value '0x' is invalid for '--seed <seed>' (see 'svmfuzz hunt --help')")
    }

    func testUsageErrors() throws {
        assertBadInput(try svmfuzz("replay"),
                       "svmfuzz replay: Missing expected argument '<file>' (see 'svmfuzz replay --help')")
        assertBadInput(try svmfuzz("frobnicate"), "svmfuzz: Unexpected argument 'frobnicate' (see 'svmfuzz --help')")
        assertBadInput(try svmfuzz("replay", "x.svm", "--bogus"),
                       "svmfuzz replay: Unknown option '--bogus' (see 'svmfuzz replay --help')")
        assertBadInput(try svmfuzz("encode", "x.svm"),
                       "svmfuzz encode: Missing expected argument '-o <bytes-file>' (see 'svmfuzz encode --help')")
    }

    func testUnwritableOutput() throws {
        let f = try write("ok.svm", "wrmsr efer 0x1d01\n")
        assertBadInput(try svmfuzz("encode", f, "-o", "no/such/dir/x.bin"),
                       "svmfuzz: cannot write 'no/such/dir/x.bin': No such file or directory")
    }
}
