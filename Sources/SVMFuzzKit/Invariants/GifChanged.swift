// gif-changed (bug zoo INV-GIF): only STGI, CLGI, VMRUN and #VMEXIT change GIF.
//
// APM vol. 2, 15.17 "Global Interrupt Flag": GIF is set by STGI and VMRUN, cleared by CLGI and
// #VMEXIT, and by nothing else; EFER.SVME and GIF are independent (clearing SVME is not listed as
// touching GIF, and KVM documents (SVME=0, GIF=0) as a state KVM_SET_NESTED_STATE accepts). So an
// instruction that L1 (or SMM code) runs and that is none of those leaves GIF as it was. Excluded:
// VMRUN (enters L2 or fails with #VMEXIT(INVALID)), RSM (may re-enter L2), and a shutdown (an
// INIT-reset, which sets GIF by reset).

import SVMModel

enum GifChanged: Invariant {
    static let family = InvariantFamily.gifChanged
    static let justification = "APM vol. 2, 15.17: only STGI, CLGI, VMRUN and #VMEXIT change GIF"
    static let checkpoint = CheckpointKind.instruction

    static func check(_ ex: inout Executor) -> CheckFailure? {
        let f = ex.now.instruction.before
        guard let d = check(ex.now.instruction.insn, mode: f.mode, gifBefore: f.gif, gifAfter: ex.vcpu.gif) else { return nil }
        return CheckFailure(.gifChanged, d)
    }

    /// Whether executing `insn` outside guest mode may change GIF at all.
    static func mayChangeGif(_ insn: GuestInstruction) -> Bool {
        switch insn {
        case .stgi, .clgi, .vmrun, .rsm, .tripleFault: return true
        case .wrmsr, .vmmcall, .vmload, .vmsave: return false
        }
    }

    /// The violation detail when `insn`, run at `mode`, moved GIF from `before` to `after`.
    static func check(_ insn: GuestInstruction, mode: Mode, gifBefore before: Bool, gifAfter after: Bool) -> String? {
        guard mode != .l2, before != after, !mayChangeGif(insn) else { return nil }
        return "\(SVMText.line(.guest(insn))) in \(mode) changed GIF \(before ? 1 : 0) -> \(after ? 1 : 0)"
    }
}
