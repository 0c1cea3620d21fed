import XCTest
import SVMFuzzKit
import SVMModel

/// svm_handle_exit reads CR0 back from the VMCB when KVM does not intercept CR0 writes, and the CPU keeps
/// CR0.ET at 1: a CR0 set without ET (KVM_SET_SREGS or a vmcb12 take it as is) has ET after the guest
/// runs. Real 6.12 under QEMU's TCG showed 0x10 for an L2 entered with vmcb12 CR0 0.
final class Cr0ReadBackTests: XCTestCase {
    private func cr0s(_ text: String) throws -> [UInt64] {
        var out: [UInt64] = []
        _ = Runner.run(try SVMText.parse(text, file: "t.svm"), variant: .merged) { _, _, ex, _ in out.append(ex.vcpu.cr0) }
        return out
    }

    func testL1CpuSetsEtAfterItRuns() throws {
        // KVM_SET_SREGS keeps the CR0 it is given; the next instruction's exit reads ET back.
        XCTAssertEqual(try cr0s("set_sregs cr0=0x80050023\nwrmsr efer 0x1d01\n"), [0x8005_0023, 0x8005_0033])
        // With ET already set nothing changes.
        XCTAssertEqual(try cr0s("set_sregs cr0=0x80050033\nwrmsr efer 0x1d01\n"), [0x8005_0033, 0x8005_0033])
    }

    func testL2EnteredWithoutEtReadsItBackAtItsFirstExit() throws {
        let cr0 = try cr0s("""
        wrmsr efer 0x1d01
        wrmsr hsave_pa 0x40000
        vmcb 0x10000 intercepts=vmrun,vmmcall efer=0x1d01 cr0=0x80050023
        vmrun 0x10000
        wrmsr efer 0x1d01
        """)
        XCTAssertEqual(cr0[3], 0x8005_0023, "VMRUN loads vmcb12's CR0 as it is (svm_set_cr0)")
        XCTAssertEqual(cr0[4], 0x8005_0033, "L2's exit reads back ET")
    }

    func testAnInterceptedCr0IsNotReadBack() throws {
        // CD set: KVM clears it in the VMCB (KVM_X86_QUIRK_CD_NW_CLEARED), so the VMCB's CR0 differs from
        // the guest's and svm_set_cr0 intercepts CR0 writes; the cache keeps the value without ET.
        XCTAssertEqual(try cr0s("set_sregs cr0=0xc0050023\nwrmsr efer 0x1d01\n"), [0xc005_0023, 0xc005_0023])
    }
}
