// Runs the built `svmfuzz` binary as a subprocess, in a fresh temporary directory per test.

import Foundation
import XCTest

struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String

    var stdoutLines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLastEmpty() }
    var stderrLines: [String] { stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLastEmpty() }
    var lastLine: String { stdoutLines.last ?? "" }
}

extension Array where Element == String {
    func dropLastEmpty() -> [String] { last == "" ? Array(dropLast()) : self }
}

class CLITestCase: XCTestCase {
    /// The temporary directory the command runs in.
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("svmfuzz-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    /// The svmfuzz executable: $SVMFUZZ_BIN, or next to the running test bundle (the products directory).
    static let binary: URL? = {
        let fm = FileManager.default
        var candidates: [URL] = []
        if let env = ProcessInfo.processInfo.environment["SVMFUZZ_BIN"] { candidates.append(URL(fileURLWithPath: env)) }
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("svmfuzz"))
        }
        for bundle in [Bundle.main] + Bundle.allBundles {
            let u = bundle.bundleURL
            candidates.append(u.appendingPathComponent("svmfuzz"))
            candidates.append(u.deletingLastPathComponent().appendingPathComponent("svmfuzz"))
        }
        if let arg0 = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: arg0).deletingLastPathComponent().appendingPathComponent("svmfuzz"))
        }
        return candidates.first { fm.isExecutableFile(atPath: $0.path) }
    }()

    func svmfuzz(_ args: String..., file: StaticString = #filePath, line: UInt = #line) throws -> CLIResult {
        try svmfuzz(args, file: file, line: line)
    }

    func svmfuzz(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CLIResult {
        let bin = try XCTUnwrap(Self.binary, "svmfuzz binary not found next to the test bundle (set SVMFUZZ_BIN)",
                                file: file, line: line)
        let p = Process()
        p.executableURL = bin
        p.arguments = args
        p.currentDirectoryURL = dir
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        p.environment = env
        // Output goes to files (no pipe can fill up and block the child).
        let io = FileManager.default.temporaryDirectory.appendingPathComponent("svmfuzz-io-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: io, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: io) }
        let outURL = io.appendingPathComponent("stdout"), errURL = io.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try out.close()
        try err.close()
        return CLIResult(status: p.terminationStatus, stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                         stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    /// Writes a file into the test's directory and returns its name (relative to it).
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        return name
    }

    func read(_ name: String) throws -> Data {
        try Data(contentsOf: dir.appendingPathComponent(name))
    }

    /// Bad input: exit 2, exactly one line on stderr, nothing on stdout, no crash.
    func assertBadInput(_ r: CLIResult, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 2, "exit status; stderr: \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stderrLines.count, 1, "one line on stderr, got: \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stderrLines.first, expected, file: file, line: line)
        XCTAssertEqual(r.stdout, "", "nothing on stdout", file: file, line: line)
        for bad in ["Fatal error", "backtrace", "Crash", "Stack dump"] {
            XCTAssertFalse(r.stderr.contains(bad), "stderr mentions '\(bad)': \(r.stderr)", file: file, line: line)
        }
    }
}

/// Programs the tests write.
enum Scenario {
    /// The upstream selftest svm_nested_clear_efer_svme: L2 clears EFER.SVME, L1 does not intercept.
    static let clearEferSvme = """
    # selftest svm_nested_clear_efer_svme
    wrmsr efer 0x1d01
    wrmsr hsave_pa 0x40000
    vmcb 0x10000
    vmrun 0x10000
    wrmsr efer 0xd01
    expect exit=shutdown

    """

    /// The same five operations padded with operations the violation does not need.
    static let padded = """
    snapshot A
    wrmsr vm_cr 0
    wrmsr efer 0x1d01
    stgi
    run
    wrmsr hsave_pa 0x40000
    snapshot B
    vmcb 0x10000
    clgi
    stgi
    vmrun 0x10000
    vmmcall
    vmrun 0x10000
    wrmsr efer 0xd01
    run
    snapshot C

    """
}
