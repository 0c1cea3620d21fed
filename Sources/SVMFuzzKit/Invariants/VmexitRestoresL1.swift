// vmexit-restores-l1: a #VMEXIT gives L1 back exactly the registers its VMRUN saved.
//
// VMRUN saves the host's (L1's) state and #VMEXIT reloads it (AMD APM vol. 2, 15.5 "VMRUN" and 15.6
// "#VMEXIT"); nothing L2 or SMM does in between may change it. KVM keeps that state in vmcb01.save
// while L2 runs and restores L1 from it in nested_svm_vmexit. Checked only for an L2 that a VMRUN
// entered (KVM_SET_NESTED_STATE lets userspace choose the state, and a forced leave restores
// nothing), and not after an RSM that smm-l1-state already flagged.
//
// First seen on real KVM (Debian 6.12.117 and 6.1.192 under QEMU/TCG): after an SMI in L2 and RSM
// back, the next #VMEXIT hands L1 a CR4 with the host's MCE bit (seed 06-smm.svm).

import SVMModel

/// The L1 registers the check compares, as reason tokens.
public enum L1Register: String, Hashable, Sendable, CaseIterable {
    case efer, cr0, cr3, cr4, rflags, rip, rsp, rax
}

enum VmexitRestoresL1: Invariant {
    static let family = InvariantFamily.vmexitRestoresL1
    static let justification = "AMD APM vol. 2, 15.6: #VMEXIT reloads the host state VMRUN saved"
    static let checkpoint = CheckpointKind.step
    static let supersedesEarlier = false

    static func check(_ ex: inout Executor) -> CheckFailure? {
        guard !ex.now.before.l1RestoreMismatch, case .some = ex.vcpu.l1RestoreMismatch,
              let r = ex.vcpu.l1RestoreMismatch, case .none = ex.vcpu.smmL1Mismatch else { return nil }
        guard let reg = L1Register.allCases.first(where: { r.atVmrun[$0] != r.afterVmexit[$0] }) else { return nil }
        return CheckFailure(.vmexitRestoresL1, ex.quiet ? "" :
                            "#VMEXIT gave L1 \(reg.rawValue) 0x\(String(r.afterVmexit[reg], radix: 16)), but its VMRUN saved 0x\(String(r.atVmrun[reg], radix: 16))",
                            reason: .restored(reg))
    }
}

extension L1Registers {
    subscript(r: L1Register) -> UInt64 {
        switch r {
        case .efer: return efer
        case .cr0: return cr0
        case .cr3: return cr3
        case .cr4: return cr4
        case .rflags: return rflags
        case .rip: return rip
        case .rsp: return rsp
        case .rax: return rax
        }
    }
}
