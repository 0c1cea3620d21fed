import XCTest
import SVMFuzzKit
import SVMModel

/// The fuzz harness runs every input on one executor, restarted in place: an input must run exactly
/// as on a fresh executor whatever ran before it (a field `restart` forgot would make an input's
/// verdict depend on the one before, which libFuzzer could not reproduce).
final class ExecutorRestartTests: XCTestCase {
    func testRunsAfterARestartEqualRunsOnAFreshExecutor() {
        var search = RandomSearch(variant: .merged, seed: 13, maxLength: 256)
        var inputs: [[UInt8]] = []
        for _ in 0..<300 { inputs.append(search.nextInput()) }
        var compared = 0
        for variant in [Variant.merged, .prefix] {
            let config = ProgramConfig().vcpuConfig(variant: variant)
            var reused = Executor(config: config)
            for input in inputs {
                input.withUnsafeBytes { bytes in
                    var decoder = OperationDecoder(bytes)
                    guard decoder.config.vcpuConfig(variant: variant) == config else { return }
                    reused.restart()
                    var fresh = Executor(config: config)
                    while let op = decoder.next() {
                        let a = reused.execute(op), b = fresh.execute(op)
                        XCTAssertEqual("\(a)", "\(b)", "\(variant): step \(b.step) of an input after a restart")
                        XCTAssertEqual(reused.stepViolation, fresh.stepViolation)
                        XCTAssertTrue(reused.vcpu == fresh.vcpu, "\(variant): the vCPU after step \(b.step) differs")
                        // What the VMM side decides the next steps by (invisible in a clean record).
                        XCTAssertEqual(reused.guestReachable, fresh.guestReachable, "\(variant): step \(b.step)")
                        XCTAssertEqual(reused.inRun, fresh.inRun, "\(variant): step \(b.step)")
                        XCTAssertEqual(reused.halted, fresh.halted, "\(variant): step \(b.step)")
                        compared += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(compared, 1000, "too few steps compared to mean anything")
    }
}
