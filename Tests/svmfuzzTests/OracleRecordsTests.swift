import Foundation
import XCTest

/// Real KVM's step records of the corpus (corpus/oracle/<kernel>/, written by
/// `scripts/kvm-oracle.sh --kernel K --update-records corpus/` from Debian's kernels under QEMU/TCG)
/// against the model configured as that kernel: every recorded program agrees, or its difference is
/// explained in corpus/oracle-known.txt. A model change that departs from real KVM fails here.
final class OracleRecordsTests: CLITestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The programs the records of `kernel` are for (each file's header names its program).
    private func recordedPrograms(_ kernel: String) throws -> [String] {
        let dir = Self.root.appendingPathComponent("corpus/oracle/\(kernel)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".jsonl") }
        return try files.sorted().compactMap { f in
            let text = try String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8)
            guard let first = text.split(separator: "\n").first,
                  let obj = try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any] else { return nil }
            guard let program = obj["program"] as? String,
                  FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(program).path) else { return nil }
            return program
        }
    }

    private func check(_ kernel: String) throws {
        let programs = try recordedPrograms(kernel)
        XCTAssertGreaterThanOrEqual(programs.count, 30, "records of \(kernel) missing")
        let bin = try XCTUnwrap(Self.binary)
        let p = Process()
        p.executableURL = bin
        p.currentDirectoryURL = Self.root
        p.arguments = ["oracle"] + programs + ["--kernel", kernel, "--records", "corpus/oracle/\(kernel)"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, text)
        XCTAssertFalse(text.contains("DISAGREE"), text)
        XCTAssertTrue(text.contains("0 disagree"), text)
    }

    func testModelAgreesWithLinux612() throws { try check("6.12") }
    func testModelAgreesWithLinux61() throws { try check("6.1") }
}
