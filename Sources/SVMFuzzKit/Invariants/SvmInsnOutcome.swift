// svm-insn-outcome: the APM's exception conditions decide what VMRUN, VMLOAD, VMSAVE, STGI, CLGI and
// VMMCALL raise, whatever path KVM takes to run them (its intercept handlers, or the CPU under vGIF or
// virtual VMLOAD/VMSAVE). INVLPGA and SKINIT are not in the model.
//
// AMD APM vol. 2, 15.4 "Enabling SVM" (the SVM instructions need EFER.SVME) and vol. 3, the pages of
// VMRUN, VMLOAD, VMSAVE, STGI, CLGI and VMMCALL: #UD when EFER.SVME is clear (no SVM-Lock or SKINIT in
// the guest's CPUID, so STGI and CLGI too) or outside protected mode; #GP(0) at CPL > 0; for VMRUN,
// VMLOAD and VMSAVE, #GP(0) when rAX is not 4 KiB aligned or lies beyond MAXPHYADDR; a VMMCALL that is
// not intercepted raises #UD. Where several hold, #UD comes first. With none, the instruction runs:
// STGI sets GIF and CLGI clears it (15.17); what VMRUN then does is vmrun-outcome's. A #DB after it
// is RFLAGS.TF's single-step trap (after a #VMEXIT to L1 too), not one of its exceptions.
//
// Judged: every such instruction of L1 or SMM code, except VMMCALL (intercepted by KVM, its
// hypercall ABI); in L2, those vmcb12 does not intercept (VMRUN always is). Not behind the
// forced-emulation prefix: past its checks KVM's emulator has no handler for them (an emulation
// failure by design), so the executor does not count them as executed. Whether an intercept or
// an exception comes first for an intercepted SVM instruction is left to intercept-not-reflected: the
// model routes at KVM's exit handler, and KVM's #GP-erratum path (gp_interception,
// emulate_svm_instr) turns the CPU's #GP on VMRUN/VMLOAD/VMSAVE in L2 into a #VMEXIT to L1.
//
// Accepted KVM behaviours, each an outcome allowed besides the APM's:
// - KVM tests CR0.PG where the APM means protected mode (nested_svm_check_permissions): when PE and
//   PG differ, the outcome as if PE were PG.
// - With EFER.SVME clear in L1 and a bad rAX, VMRUN/VMLOAD/VMSAVE raise #GP instead of #UD: the CPU
//   checks rAX (SVME_ADDR_CHK) before its exit to KVM, seeing vmcb01's EFER.SVME, which KVM keeps
//   set; KVM's #UD comes after (real 6.12.117 under QEMU/TCG, svmfuzz oracle campaign 2026-12-02).
// - Before 460c7eb2e759 (kvm-x86 2026-03; Debian's 6.1.192 and 6.12.117 lack it, svmfuzz oracle on
//   seed 09), KVM lets the CPU run L1's STGI/CLGI under vGIF and VMLOAD/VMSAVE under virtual
//   VMLOAD/VMSAVE (long mode) without an exit, and the CPU sees EFER.SVME set: no #UD. Allowed only
//   on configurations without that fix (KvmFixes.interceptGifInsnsWithoutSvme).
// - VMRUN/VMLOAD/VMSAVE of a legal, aligned GPA that no memory backs: #GP or an exit to userspace
//   (kvm_vcpu_map fails: 01ddcdc55e09 injects #GP, 2daf71bfd77d exits with KVM_EXIT_INTERNAL_ERROR;
//   under virtual VMLOAD/VMSAVE the nested page fault sends KVM's emulator there, #UD and the exit).
// - VMRUN: #GP with VM_HSAVE_PA 0 (fb79f566e4c9, hsave-pa-rules), #UD in SMM, and KVM_RUN failing
//   when the nested state was never allocated (a WARN, kvm-warn's).
// Known, and outside what the model does: real 6.1.192 re-executes an unintercepted VMMCALL of L2
// forever instead of raising #UD (hypercall patching; corpus/oracle-known.txt, l2-vmmcall-unintercepted).

import SVMModel

enum SvmInsnOutcome: Invariant {
    static let family = InvariantFamily.svmInsnOutcome
    static let justification = "APM vol. 2, 15.4 and vol. 3, VMRUN/VMLOAD/VMSAVE/STGI/CLGI/VMMCALL: #UD without EFER.SVME or protected mode, #GP at CPL > 0 or for a bad rAX, #UD for an unintercepted VMMCALL"
    static let checkpoint = CheckpointKind.instruction

    /// The outcomes of an instruction's exception checks, as a set.
    struct Outcomes: OptionSet {
        let rawValue: UInt8
        static let ud = Outcomes(rawValue: 1 << 0)
        static let gp = Outcomes(rawValue: 1 << 1)
        /// No exception: the instruction runs.
        static let runs = Outcomes(rawValue: 1 << 2)
        /// KVM_RUN returns to userspace or fails.
        static let exit = Outcomes(rawValue: 1 << 3)
        /// Another exception.
        static let other = Outcomes(rawValue: 1 << 4)

        var text: String {
            [(Outcomes.ud, "#UD"), (.gp, "#GP"), (.runs, "no exception"), (.exit, "an exit to userspace"), (.other, "another exception")]
                .filter { contains($0.0) }.map(\.1).joined(separator: " or ")
        }
    }

    static func check(_ ex: inout Executor) -> CheckFailure? {
        let insn = ex.now.instruction.insn
        let b = ex.now.instruction.before
        let rax: UInt64?
        switch insn {
        case .vmrun(let gpa), .vmload(let gpa), .vmsave(let gpa): rax = gpa
        case .stgi, .clgi, .vmmcall: rax = nil
        case .wrmsr, .rsm, .tripleFault: return nil
        }
        if b.mode == .l2 {
            if case .vmrun = insn { return nil }
            if b.intercepts.intercepts(exitCode: insn.exitCode) { return nil }
        } else if case .vmmcall = insn {
            return nil
        }
        let observed: Outcomes
        if !ex.now.instruction.resumed {
            observed = .exit
        } else {
            switch ex.now.record.injected {
            // A #DB is RFLAGS.TF's trap after the instruction completed (after a #VMEXIT to L1, too).
            case .none, .some(Vector.db): observed = .runs
            case .some(Vector.ud): observed = .ud
            case .some(Vector.gp): observed = .gp
            case .some: observed = .other
            }
        }
        let allowed = allowedOutcomes(insn, rax: rax, b, ex.vcpu.config, nestedAllocated: ex.vcpu.nested.initialized)
        if !allowed.contains(observed) {
            return CheckFailure(.svmInsnOutcome, ex.quiet ? "" :
                                "\(SVMText.line(.guest(insn))) in \(b.mode) (EFER 0x\(String(b.efer, radix: 16)), CR0 0x\(String(b.cr0, radix: 16)), CPL \(b.cpl)) raised \(observed.text); the APM says \(allowed.text)")
        }
        // STGI and CLGI that ran set and clear GIF (L1's; L2's may be its own virtual GIF).
        if observed == .runs, b.mode != .l2 {
            if insn == .stgi && !ex.vcpu.gif || insn == .clgi && ex.vcpu.gif {
                return CheckFailure(.svmInsnOutcome, ex.quiet ? "" : "\(SVMText.line(.guest(insn))) in \(b.mode) ran and left GIF \(ex.vcpu.gif ? "set" : "clear")")
            }
        }
        return nil
    }

    /// The APM's outcome of the exception checks.
    static func apm(_ insn: GuestInstruction, rax: UInt64?, svme: Bool, protectedMode: Bool, cpl: UInt8, cpu: GuestCpu) -> Outcomes {
        if case .vmmcall = insn { return .ud }           // judged only when not intercepted
        if !svme || !protectedMode { return .ud }
        if cpl != 0 { return .gp }
        if let rax, rax & 0xfff != 0 || !cpu.isLegalGpa(rax) { return .gp }
        return .runs
    }

    /// The APM's outcome and the KVM behaviours accepted besides it (the header's list).
    static func allowedOutcomes(_ insn: GuestInstruction, rax: UInt64?, _ b: StateBefore, _ config: VcpuConfig,
                                nestedAllocated: Bool) -> Outcomes {
        let l2 = b.mode == .l2
        let svme = b.efer & EFER.svme != 0, pe = b.cr0 & CR0.pe != 0, pg = b.cr0 & CR0.pg != 0
        let outcome = apm(insn, rax: rax, svme: svme, protectedMode: pe, cpl: b.cpl, cpu: config.cpu)
        var allowed = outcome
        if pe != pg { allowed.insert(apm(insn, rax: rax, svme: svme, protectedMode: pg, cpl: b.cpl, cpu: config.cpu)) }
        let vmcbAddress: Bool
        switch insn {
        case .vmrun, .vmload, .vmsave: vmcbAddress = true
        default: vmcbAddress = false
        }
        if !l2 && !svme {
            if vmcbAddress && pe && config.hostSvmeAddrChk && apm(insn, rax: rax, svme: true, protectedMode: true, cpl: b.cpl, cpu: config.cpu) == .gp {
                allowed.insert(.gp)
            }
            let runByCpu: Bool
            switch insn {
            case .stgi, .clgi: runByCpu = config.vgif
            case .vmload, .vmsave: runByCpu = config.vlsEnabled && b.efer & EFER.lma != 0
            default: runByCpu = false
            }
            if runByCpu && !config.has(.interceptGifInsnsWithoutSvme) {
                allowed.insert(apm(insn, rax: rax, svme: true, protectedMode: pe, cpl: b.cpl, cpu: config.cpu))
            }
        }
        if allowed.contains(.runs), vmcbAddress, let rax, !GuestPhys.isMappable(rax) { allowed.formUnion([.gp, .exit]) }
        if allowed.contains(.runs), case .vmrun = insn {
            if b.hsaveMsr == 0 { allowed.insert(.gp) }
            if b.mode == .smm { allowed.insert(.ud) }
            if !nestedAllocated { allowed.insert(.exit) }
        }
        return allowed
    }
}
