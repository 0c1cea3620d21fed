// ioctl-accepts-invalid (bug zoo INV-ABI): KVM_SET_SREGS (or KVM_RUN's sync_regs, which takes the same
// path) accepts only an EFER the vCPU can have.
//
// APM vol. 2, 3.1.7 "Extended Feature Enable Register": reserved EFER bits must be zero, EFER.SVME
// is reserved without CPUID Fn8000_0001_ECX[SVM] and LME/LMA without long mode
// (CPUID Fn8000_0001_EDX[LM]). KVM exposes SVME only with kvm_amd.nested (kvm_caps.supported_efer_bits),
// and documents that KVM_SET_SREGS rejects state the guest's CPUID cannot have, like KVM_SET_MSRS does.

import SVMModel

enum IoctlAcceptsInvalid: Invariant {
    static let family = InvariantFamily.ioctlAcceptsInvalid
    static let justification = "APM vol. 2, 3.1.7: EFER bits the CPUID does not allow are reserved; KVM_SET_SREGS refuses what the guest's CPUID cannot have"
    static let checkpoint = CheckpointKind.ioctl

    static func check(_ ex: inout Executor) -> CheckFailure? {
        let p: SregsPatch, viaSync: Bool
        switch ex.now.operation {
        case .setSregs(let q):
            guard ex.now.record.ioctlResult == .ok else { return nil }
            (p, viaSync) = (q, false)
        case .runWith(let req):
            // KVM_RUN's sync_regs puts SREGS through __set_sregs, the same checks.
            let calls = ex.now.record.ioctls
            guard let q = req.sregs, (0..<calls.count).contains(where: { calls[$0].kind == .setSregs && calls[$0].result == .ok })
            else { return nil }
            (p, viaSync) = (q, true)
        default:
            return nil
        }
        let via = viaSync ? "KVM_RUN's sync_regs (SREGS)" : "KVM_SET_SREGS"
        guard let d = checkSetSregs(efer: p.efer ?? ex.now.before.efer, ex.vcpu.config, via: via) else { return nil }
        return CheckFailure(.ioctlAcceptsInvalid, d, reason: viaSync ? .syncRegs : nil)
    }

    /// Why `efer` is not a valid EFER for a vCPU of `config`, or nil.
    static func invalidEfer(_ efer: UInt64, _ config: VcpuConfig) -> String? {
        let architectural = EFER.sce | EFER.lme | EFER.lma | EFER.nx | EFER.svme
        if efer & ~architectural != 0 { return "reserved EFER bits set" }
        if efer & EFER.svme != 0 && !(config.guestSvm && config.nested) { return "EFER.SVME without SVM for the guest" }
        if efer & (EFER.lme | EFER.lma) != 0 && !config.guestLm { return "EFER.LME/LMA without long mode in CPUID" }
        return nil
    }

    /// After KVM_SET_SREGS succeeded with `efer`.
    static func checkSetSregs(efer: UInt64, _ config: VcpuConfig, via: String = "KVM_SET_SREGS") -> String? {
        invalidEfer(efer, config).map { "\(via) accepted EFER 0x\(String(efer, radix: 16)): \($0)" }
    }
}
