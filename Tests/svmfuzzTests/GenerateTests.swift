import Foundation
import XCTest

/// `svmfuzz generate` leaves out programs whose L1 sets EFER.LMSLE: the Debian kernels accept the bit,
/// QEMU's TCG CPU does not, so each would differ at its next entry for TCG's reason only.
final class GenerateTests: CLITestCase {
    func testGeneratedProgramsNeverSetLmsle() throws {
        _ = try write("base.svm", "wrmsr efer 0x3d01\nwrmsr efer 0x1d01\nvmmcall\n")
        let r = try svmfuzz("generate", "--count", "60", "--seed", "3", "--seeds", "base.svm", "--mutations", "1", "-o", "out")
        XCTAssertEqual(r.status, 0, r.stderr)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("out").path)
        XCTAssertEqual(files.count, 60)
        var lmsleWrites = 0
        for f in files {
            let rep = try svmfuzz("replay", "out/\(f)", "--variant", "linux-6.12", "--json")
            for line in rep.stdoutLines where line.contains("\"efer\":\"0x") {
                if let v = line.range(of: #""efer":"0x[0-9a-f]+""#, options: .regularExpression).map({ String(line[$0].dropFirst(10).dropLast()) }),
                   let efer = UInt64(v, radix: 16), efer & 0x2000 != 0 { lmsleWrites += 1 }
            }
        }
        XCTAssertEqual(lmsleWrites, 0, "a generated program sets EFER.LMSLE")
        // The filter is what keeps them out: the base itself sets it on linux-6.12.
        let base = try svmfuzz("replay", "base.svm", "--variant", "linux-6.12", "--json")
        XCTAssertTrue(base.stdout.contains("\"efer\":\"0x3d01\""), base.stdout)
    }
}
