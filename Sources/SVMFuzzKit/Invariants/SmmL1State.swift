// smm-l1-state: an SMI taken in L2 and an RSM back into L2 must leave L1 exactly as it was, and no
// RSM into L2 may install an L1 state that VMRUN and KVM_SET_NESTED_STATE would refuse.
//
// Architecturally SMM is transparent: RSM resumes the interrupted context, here L2 with L1's state
// held as it was at the SMI (AMD APM vol. 2, SMM and SVM). KVM emulates that by copying L1's state
// (vmcb01.save) into the page MSR_VM_HSAVE_PA names on SMI (svm_enter_smm) and reading it back on
// RSM (svm_leave_smm); bug zoo INV-SMM / B14 states the property. Anything that changes L1's state
// in between (SMM code moving MSR_VM_HSAVE_PA or rewriting that page) is caught here, where it
// happens, instead of later as an unmigratable or corrupted L1.

import SVMModel

enum SmmL1State: Invariant {
    static let family = InvariantFamily.smmL1State
    static let justification = "AMD APM vol. 2: SMM is transparent, RSM resumes the interrupted context; bug zoo INV-SMM"
    static let checkpoint = CheckpointKind.step
    /// The root cause wins over what it leads to later in the same operation (e.g. a state that then
    /// cannot be migrated at the exit to userspace).
    static let supersedesEarlier = true

    static func check(_ ex: inout Executor) -> CheckFailure? {
        // Tested before binding: the record is copied only when the check fails.
        guard !ex.now.before.smmL1Mismatch, case .some = ex.vcpu.smmL1Mismatch, let r = ex.vcpu.smmL1Mismatch else { return nil }
        return CheckFailure(.smmL1State, describe(r))
    }

    /// What differs between the L1 state an SMI saved and the one its RSM installed.
    static func describe(_ r: SmmL1Record) -> String {
        guard let a = r.atSmi, a != r.atRsm else {
            let b = r.atRsm
            return "RSM into L2 installed an L1 state KVM_SET_NESTED_STATE refuses (EFER 0x\(String(b.efer, radix: 16)), CR0 0x\(String(b.cr0, radix: 16)), CR4 0x\(String(b.cr4, radix: 16)))"
        }
        let b = r.atRsm
        let fields: [(String, UInt64, UInt64)] = [
            ("efer", a.efer, b.efer), ("cr0", a.cr0, b.cr0), ("cr3", a.cr3, b.cr3), ("cr4", a.cr4, b.cr4),
            ("rflags", a.rflags, b.rflags), ("rip", a.rip, b.rip), ("rsp", a.rsp, b.rsp), ("rax", a.rax, b.rax),
        ]
        let diff = fields.first { $0.1 != $0.2 }.map {
            "L1 \($0.0) 0x\(String($0.1, radix: 16)) at SMI, 0x\(String($0.2, radix: 16)) after RSM"
        }
        return "RSM into L2 resumed L1 with a different state than the SMI saved: \(diff ?? "cpl")"
    }
}
