import SVMFuzzKit
import SVMModel

/// Programs for the invariant tests, built directly (independent of the text parser).
enum Build {
    static let vmcbGpa: UInt64 = 0x10000
    static let hsaveGpa: UInt64 = 0x40000
    static let svmeEfer: UInt64 = 0x1d01
    static let l1Efer: UInt64 = 0xd01

    /// L1 enables SVM, sets HSAVE_PA and VMRUNs the default vmcb12 (intercepts VMRUN and VMMCALL only).
    static func enterL2(_ vmcb: Vmcb = DefaultVmcb12.value) -> [Operation] {
        [.guest(.wrmsr(msr: MSR.efer, value: svmeEfer)),
         .guest(.wrmsr(msr: MSR.vmHsavePa, value: hsaveGpa)),
         .vmcb(gpa: vmcbGpa, vmcb),
         .guest(.vmrun(gpa: vmcbGpa))]
    }

    /// The upstream selftest svm_nested_clear_efer_svme.
    static var clearEferSvme: Program {
        Program(operations: enterL2() + [.guest(.wrmsr(msr: MSR.efer, value: svmeEfer & ~EFER.svme))])
    }

    /// The thread's restore case: snapshot L1 before SVME, enter L2, restore in QEMU's order.
    static var restoreIntoL2: Program {
        Program(operations: [.snapshot(.a)] + enterL2() + [.restore(.a, .qemu)])
    }

    static var resetInL2: Program { Program(operations: enterL2() + [.reset]) }
}
