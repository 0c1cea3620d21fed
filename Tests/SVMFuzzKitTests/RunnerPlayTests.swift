import XCTest
import SVMFuzzKit
import SVMModel

/// How `svmfuzz oracle` plays a program (Runner.run asKernel): the real-KVM runner leaves KVM_RUN at
/// the doorbell that ends every step, where QEMU's vCPU thread stays in the guest.
final class RunnerPlayTests: XCTestCase {
    private func run(_ text: String, asKernel: Bool) throws -> RunReport {
        let p = try SVMText.parse(text, file: "t.svm")
        return Runner.run(p, config: p.config.vcpuConfig(variant: .linux61), asKernel: asKernel)
    }

    /// `signal` then `smi`: for the runner the signal is pending when the KVM_RUN after KVM_SMI starts,
    /// so vcpu_enter_guest takes the SMI before it cancels the entry (real 6.1.192, campaign program
    /// gen-1002-14: SMM). Inside a running guest the signal ends KVM_RUN first and the SMI waits.
    func testASignalBeforeAnSmiIsPendingAtTheNextKvmRunForTheRunner() throws {
        let p = "wrmsr efer 0x1d01\nsignal\nsmi\n"
        let runner = try run(p, asKernel: true)
        XCTAssertEqual(runner.finalState.vcpu.mode, .smm)
        XCTAssertEqual(runner.lastRecord?.exit, .intr)
        let qemu = try run(p, asKernel: false)
        XCTAssertEqual(qemu.finalState.vcpu.mode, .l1)
        XCTAssertTrue(qemu.finalState.vcpu.smiPending)
    }
}
