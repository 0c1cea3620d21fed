import Foundation
import XCTest

/// `svmfuzz export-c`: a self-contained C reproducer built from the runner's sources.
final class ExportCTests: CLITestCase {
    /// The repository this test file is in.
    private static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Makes the test's directory look like the repository to export-c: the runner's sources (a link)
    /// and the seed `name` from corpus/seeds.
    private func prepareRepository(seed name: String) throws {
        let sources = dir.appendingPathComponent("Sources")
        try FileManager.default.createDirectory(at: sources, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: sources.appendingPathComponent("svmfuzz-kvm"),
                                                   withDestinationURL: Self.repo.appendingPathComponent("Sources/svmfuzz-kvm"))
        try write(name, try String(contentsOf: Self.repo.appendingPathComponent("corpus/seeds/" + name), encoding: .utf8))
    }

    private static var gcc: URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent("gcc") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// Runs gcc in the test's directory; returns its status and what it printed.
    private func compile(_ args: [String]) throws -> (Int32, String) {
        guard let gcc = Self.gcc else { throw XCTSkip("gcc is not installed") }
        let p = Process()
        p.executableURL = gcc
        p.arguments = args
        p.currentDirectoryURL = dir
        let log = dir.appendingPathComponent("gcc.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let h = try FileHandle(forWritingTo: log)
        p.standardOutput = h
        p.standardError = h
        try p.run()
        p.waitUntilExit()
        try h.close()
        return (p.terminationStatus, try String(contentsOf: log, encoding: .utf8))
    }

    func testSeedExportsAHeaderAndCompilesWithGccStatic() throws {
        try prepareRepository(seed: "01-l2-entry.svm")
        let r = try svmfuzz("export-c", "01-l2-entry.svm", "--kernel", "6.12")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        let c = r.stdout
        XCTAssertTrue(c.hasPrefix("/*\n * A reproducer for Linux KVM's nested AMD SVM (kvm_amd), made by svmfuzz.\n"), c)
        for part in [" * Made by:  svmfuzz export-c 01-l2-entry.svm --kernel 6.12\n",
                     " * Expected: model variant linux-6.12, guest without NRIPS",
                     " * Build:    gcc -O2 -static -o repro repro.c",
                     " * Run:      ./repro",
                     " *   vmrun 0x10000\n",
                     "#define SVMFUZZ_EMBEDDED 1\n",
                     "\t\"config nested=1 npt=1 vgif=1 svm=1 lm=1 nrips=0 fep=0\\n\"\n",
                     "\t{4, \"mode\", \"l2\"},\n",
                     "static const char *const svmfuzz_fields[] = {\"ran\", \"exit\", ",
                     "__asm__(\n"] {
            XCTAssertTrue(c.contains(part), "missing: \(part)")
        }
        XCTAssertFalse(c.contains("#include \""), "local includes are removed")

        try write("repro.c", c)
        let (status, log) = try compile(["-O2", "-static", "-Wall", "-o", "repro", "repro.c"])
        XCTAssertEqual(status, 0, log)
        XCTAssertEqual(log, "", "no warnings")
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("repro").path))
    }

    func testVariantOptionNamesTheExpectations() throws {
        try prepareRepository(seed: "03-clear-efer-svme.svm")
        let r = try svmfuzz("export-c", "03-clear-efer-svme.svm", "--variant", "merged")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains(" * Expected: model variant merged, guest without NRIPS"))
        assertBadInput(try svmfuzz("export-c", "03-clear-efer-svme.svm", "--kernel", "5.4"),
                       "svmfuzz: --kernel takes 6.1 or 6.12 (got '5.4')")
    }

    func testBadPathIsBadInput() throws {
        try prepareRepository(seed: "01-l2-entry.svm")
        assertBadInput(try svmfuzz("export-c", "missing.svm"), "svmfuzz: cannot read 'missing.svm': No such file or directory")
    }

    func testOutsideTheRepositoryIsBadInput() throws {
        try write("p.svm", "wrmsr efer 0x1d01\n")
        let r = try svmfuzz("export-c", "p.svm")
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("svmfuzz export-c: no Sources/svmfuzz-kvm/runner.c"), r.stderr)
    }
}
