import Foundation
import XCTest
import SVMFuzzKit
import SVMModel

/// Replays corpus/: every regression still violates its invariant on its variant and is clean on
/// merged; every seed behaves on every variant as its `# violates:` header says (clean elsewhere).
final class CorpusReplayTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("corpus")

    private func svmFiles(in dir: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".svm") }.sorted().map { dir.appendingPathComponent($0) }
    }

    private func load(_ url: URL) throws -> (Program, String) {
        let text = try String(contentsOf: url, encoding: .utf8)
        return (try SVMText.parse(text, file: url.lastPathComponent), text)
    }

    /// `# key: value` header lines.
    private func header(_ key: String, in text: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix("# \(key):") {
            return line.dropFirst(key.count + 3).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    func testRegressionsStillFailOnTheirVariantAndNotOnMerged() throws {
        let root = Self.corpus.appendingPathComponent("regressions")
        let dirs = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).sorted()
        var replayed = 0
        for dirName in dirs {
            let variant = try XCTUnwrap(Variant(rawValue: dirName), "corpus/regressions/\(dirName) is not a variant")
            for url in svmFiles(in: root.appendingPathComponent(dirName)) {
                let (program, text) = try load(url)
                let id = try XCTUnwrap(header("invariant", in: text), "\(url.lastPathComponent) lacks '# invariant:'")
                let onVariant = Runner.run(program, variant: variant)
                XCTAssertEqual(onVariant.violation?.id.description, id, "\(dirName)/\(url.lastPathComponent)")
                XCTAssertTrue(onVariant.expectFailures.isEmpty, "\(onVariant.expectFailures)")
                if variant != .merged {
                    let onMerged = Runner.run(program, variant: .merged)
                    XCTAssertNil(onMerged.violation, "\(dirName)/\(url.lastPathComponent) on merged")
                }
                replayed += 1
            }
        }
        XCTAssertGreaterThan(replayed, 0, "no regression programs found under \(root.path)")
    }

    /// corpus/upstream-tests (KVM selftests and kvm-unit-tests translated into .svm) and
    /// corpus/divergences (places where the model differed from KVM, found by reading its source):
    /// each program states KVM's behaviour in `expect` lines and must replay clean on the variant of
    /// its config line (merged by default), every expect holding.
    func testKvmBehaviourProgramsHoldTheirExpectations() throws {
        var replayed = 0
        for dir in ["upstream-tests", "divergences"] {
            for url in svmFiles(in: Self.corpus.appendingPathComponent(dir)) {
                let (program, text) = try load(url)
                let name = "\(dir)/\(url.lastPathComponent)"
                XCTAssertTrue(program.operations.contains { if case .expect = $0 { return true } else { return false } },
                              "\(name) states nothing (no expect line)")
                XCTAssertNotNil(header("before", in: text), "\(name) lacks '# before:' (what the model did before)")
                let r = Runner.run(program)
                XCTAssertNil(r.violation, "\(name): \(String(describing: r.violation))")
                XCTAssertTrue(r.expectFailures.isEmpty, "\(name): \(r.expectFailures)")
                XCTAssertEqual(r.steps, program.operations.count, "\(name) stopped early")
                replayed += 1
            }
        }
        XCTAssertGreaterThanOrEqual(replayed, 9)
    }

    /// corpus/coverage: programs written to reach model paths no seed reaches (scripts/coverage.sh
    /// replays them; fuzz campaigns do not start from them, so the seeded CI verdicts stay put): each
    /// states what KVM does in `expect` lines and replays clean on every series variant.
    func testCoverageProgramsHoldTheirExpectations() throws {
        let programs = svmFiles(in: Self.corpus.appendingPathComponent("coverage"))
        XCTAssertGreaterThanOrEqual(programs.count, 8)
        for url in programs {
            let (program, _) = try load(url)
            let name = "coverage/\(url.lastPathComponent)"
            XCTAssertTrue(program.operations.contains { if case .expect = $0 { return true } else { return false } },
                          "\(name) states nothing (no expect line)")
            for variant in Variant.series {
                let r = Runner.run(program, variant: variant)
                XCTAssertNil(r.violation, "\(name) on \(variant): \(String(describing: r.violation))")
                XCTAssertTrue(r.expectFailures.isEmpty, "\(name) on \(variant): \(r.expectFailures)")
                XCTAssertEqual(r.steps, program.operations.count, "\(name) on \(variant) stopped early")
            }
        }
    }

    func testSeedsBehaveAsTheirHeadersSay() throws {
        let seeds = svmFiles(in: Self.corpus.appendingPathComponent("seeds"))
        XCTAssertGreaterThanOrEqual(seeds.count, 5)
        for url in seeds {
            let (program, text) = try load(url)
            var expected: [Variant: String] = [:]
            for pair in (header("violates", in: text) ?? "").split(separator: " ") {
                let kv = pair.split(separator: "=")
                guard kv.count == 2, let v = Variant(rawValue: String(kv[0])) else {
                    XCTFail("\(url.lastPathComponent): bad '# violates:' entry '\(pair)'"); continue
                }
                expected[v] = String(kv[1])
            }
            for variant in Variant.series {
                let r = Runner.run(program, variant: variant)
                if let want = expected[variant] {
                    let got = r.violation?.id
                    XCTAssertTrue(got?.description == want || got?.family.rawValue == want,
                                  "\(url.lastPathComponent) on \(variant): wanted \(want), got \(String(describing: got))")
                } else {
                    XCTAssertNil(r.violation, "\(url.lastPathComponent) on \(variant)")
                    XCTAssertTrue(r.expectFailures.isEmpty, "\(url.lastPathComponent) on \(variant): \(r.expectFailures)")
                }
            }
        }
    }
}
