import XCTest
import SVMFuzzKit
import SVMModel

/// KVM_GET_VCPU_EVENTS runs process_nmi, which before 2cb9317377ca (linux-6.1 lacks it) raised
/// KVM_REQ_EVENT whether or not an NMI was pending: a VMM that only reads the state makes the next
/// entry look at events again. The programs below agree with real 6.1.192 and 6.12.117 (records in
/// corpus/oracle/<kernel>/ for the corpus programs they come from).
final class GetVcpuEventsRequestTests: XCTestCase {
    /// An INIT latched while L1 had GIF clear, then L1's STGI under vGIF (no intercept, no request).
    private let latchedPastStgi = """
        wrmsr efer 0x1d01
        clgi
        init
        stgi

        """

    private func run(_ text: String, _ variant: Variant, asKernel: Bool = false) throws -> RunReport {
        let p = try SVMText.parse(text, file: "t.svm")
        return Runner.run(p, config: p.config.vcpuConfig(variant: variant), asKernel: asKernel)
    }

    /// The VMM's own GET (`snapshot`): on 6.1 the next entry takes the INIT (the vCPU resets: EFER 0).
    func testASnapshotMakesTheNextEntryTakeTheInitOnlyOn61() throws {
        let p = latchedPastStgi + "snapshot A\nrun\n"
        XCTAssertEqual(try run(p, .linux61).finalState.vcpu.efer, 0)
        for v in [Variant.linux612, .merged] {
            XCTAssertEqual(try run(p, v).finalState.vcpu.efer, 0x1d01, "\(v): still latched")
        }
    }

    /// As the real-KVM runner plays a program (asKernel), it reads the state after every step, so on
    /// 6.1 the INIT is taken at the next KVM_RUN even without a snapshot; a plain replay keeps it.
    func testTheRunnersPerStepReadsCountOn61Only() throws {
        let p = latchedPastStgi + "run\n"
        XCTAssertEqual(try run(p, .linux61, asKernel: true).finalState.vcpu.efer, 0)
        XCTAssertEqual(try run(p, .linux61).finalState.vcpu.efer, 0x1d01)
        XCTAssertEqual(try run(p, .linux612, asKernel: true).finalState.vcpu.efer, 0x1d01)
        // A signal sent before that KVM_RUN: the new KVM_RUN services the request, then cancels.
        let signalled = try run(latchedPastStgi + "signal\nrun\n", .linux61, asKernel: true)
        XCTAssertEqual(signalled.finalState.vcpu.efer, 0)
        XCTAssertEqual(signalled.lastRecord?.exit, .intr)
    }

    /// The migration check GETs from the source vCPU too: on 6.1 both sides take the INIT, so the
    /// known issue unrestorable-state next-entry:init does not show there.
    func testMigrationOf61TakesTheInitOnBothSides() throws {
        let p = latchedPastStgi + "run\n"
        XCTAssertNil(try run(p, .linux61).violation)
        XCTAssertEqual(try run(p, .linux612).violation?.code.description, "unrestorable-state next-entry:init")
    }
}
