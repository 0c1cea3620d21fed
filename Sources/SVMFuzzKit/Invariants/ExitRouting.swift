// exit-routing: L1 receives a nested #VMEXIT only for what it asked for, and a triple fault in L2
// that L1 does not intercept shuts the vCPU down.
//
// The converse of intercept-not-reflected (an intercepted event ends L2, MSR accesses through L1's
// permission map included); together they make the routing exact both ways. A guest exits to its
// host only for what the host's VMCB intercepts (AMD APM vol. 2, 15.6 "#VMEXIT" and the intercept
// sections: 15.9 instructions, 15.11 MSR accesses, 15.12 exceptions, 15.13 INTR/NMI/SMI/INIT, 15.14
// SHUTDOWN), besides the exits the APM makes unconditional: VMEXIT_INVALID when VMRUN's consistency
// checks fail (15.5.1) and, with nested paging, nested page faults (15.25; the model has none). So
// each #VMEXIT KVM synthesizes for L1 carries an exit code whose intercept bit is set in the vmcb12
// controls in force (svm->nested.ctl); for an MSR access, MSR_PROT and the access's bit in L1's MSR
// permission map (15.11: two bits per MSR, read then write, for 0-1FFFh, C000_0000h-C000_1FFFh and
// C001_0000h-C001_1FFFh; an MSR outside those ranges is always intercepted). An instruction's exit
// code comes only with that instruction executed by L2. Accepted, KVM's documented choices:
// nested_svm_exit_handled_msr reflects the access when it cannot read L1's map; SVM_EXIT_SW is how
// svm_enter_smm leaves L2 for SMM, not a #VMEXIT L1 runs after (the vCPU is in SMM, and RSM returns
// to L2), so it is accepted when the vCPU is in SMM after the step or ran SMM code in it (or the VM
// died entering SMM); VMEXIT_INVALID only from VMRUN.
//
// A triple fault in L2 without the SHUTDOWN intercept shuts the processor down (15.14): KVM_RUN
// returns KVM_EXIT_SHUTDOWN, and L1 gets no #VMEXIT.

import SVMModel

enum ExitRouting: Invariant {
    static let family = InvariantFamily.exitRouting
    static let justification = "APM vol. 2, 15.6 and 15.9-15.14: a guest exits to its host only for what the host's VMCB intercepts (VMEXIT_INVALID aside); an unintercepted shutdown shuts the processor down"
    static let checkpoint = CheckpointKind.step

    static func check(_ ex: inout Executor) -> CheckFailure? {
        let exits = ex.vcpu.stepVmexits
        let l2Insn = l2Instruction(ex.now)
        if case .tripleFault = l2Insn, ex.now.instruction.executed, !ex.now.instruction.before.intercepts.contains(.shutdown) {
            if exits.count > 0 || ex.now.record.exit != .shutdown {
                return CheckFailure(.exitRouting, ex.quiet ? "" : "L2 triple-faulted without the SHUTDOWN intercept and the vCPU did not shut down"
                                    + (exits.count > 0 ? " (L1 got #VMEXIT 0x\(String(exits[0].exitCode, radix: 16)))" : ""))
            }
        }
        guard exits.count > 0 else { return nil }
        for i in 0..<exits.kept {
            if let why = unrequested(exits[i], l2Insn, &ex) {
                return CheckFailure(.exitRouting, ex.quiet ? "" : "L1 received #VMEXIT 0x\(String(exits[i].exitCode, radix: 16)) it did not ask for: \(why)")
            }
        }
        return nil
    }

    /// The guest instruction L2 ran in this step, if any (behind the forced-emulation prefix too: KVM's
    /// emulator checks L1's intercepts with the instruction's own exit code).
    private static func l2Instruction(_ now: StepContext) -> GuestInstruction? {
        now.record.ran == .l2 ? now.instruction.insn : nil
    }

    /// Why the #VMEXIT `f` was not L1's to receive, or nil when it was.
    private static func unrequested(_ f: NestedVmexitFact, _ l2Insn: GuestInstruction?, _ ex: inout Executor) -> String? {
        switch f.exitCode {
        case SVMExit.sw:
            return ex.vcpu.smm || ex.vcpu.vmDead || ex.now.record.ran == .smm ? nil : "SVM_EXIT_SW without an entry into SMM"
        case SVMExit.err:
            if ex.now.record.ran == .l1, case .vmrun = ex.now.instruction.insn { return nil }
            return "VMEXIT_INVALID without a VMRUN"
        case SVMExit.msr:
            guard case .wrmsr(let msr, _) = l2Insn else { return "an MSR exit without an MSR access by L2" }
            guard f.intercepts.contains(.msrProt) else { return "vmcb12 does not set MSR_PROT" }
            return l1InterceptsMsrWrite(msr, mapAt: f.msrpmBasePa, &ex) ? nil
                : "L1's MSR permission map does not intercept writes of MSR 0x\(String(msr, radix: 16))"
        case SVMExit.vmrun...SVMExit.clgi:
            guard l2Insn?.exitCode == f.exitCode else { return "an instruction exit without that instruction executed by L2" }
            return f.intercepts.intercepts(exitCode: f.exitCode) ? nil : "vmcb12 does not intercept it"
        case SVMExit.exceptionBase..<0xa0:
            return f.intercepts.intercepts(exitCode: f.exitCode) ? nil : "vmcb12 does not intercept it"
        default:
            return "no vmcb12 intercept produces that exit code"
        }
    }

    /// Whether L1's MSR permission map at `base` intercepts writes of `msr` (APM vol. 2, 15.11): its
    /// write bit is set, the MSR is outside the map's ranges, or the map cannot be read (KVM reflects).
    /// (`ex` is inout only to read guest memory in place.)
    static func l1InterceptsMsrWrite(_ msr: UInt32, mapAt base: UInt64, _ ex: inout Executor) -> Bool {
        let rangeStart: Int
        switch msr >> 13 {
        case 0x0000_0000 >> 13: rangeStart = 0
        case 0xc000_0000 >> 13: rangeStart = 0x800
        case 0xc001_0000 >> 13: rangeStart = 0x1000
        default: return true
        }
        let bit = Int(msr & 0x1fff) * 2 + 1                      // the write bit of the MSR's pair
        guard let byte = ex.vcpu.memory.readMsrpmByte(base: base, offset: rangeStart + bit / 8) else { return true }
        return byte & (1 << UInt8(bit % 8)) != 0
    }
}
