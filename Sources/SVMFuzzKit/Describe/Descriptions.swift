// The description of every operation kind. Adding an operation: a case of Operation and OperationKind
// (and Operation.kind), a description here (with its opcode bytes and plan step), its execution
// (Executor.swift).

import SVMModel

extension OperationDescriptions {
    // The siblings include the same instructions behind KVM's forced-emulation prefix (EmulateDescription.swift).
    static let guestBare: [Operation] = [.guest(.vmmcall), .guest(.stgi), .guest(.clgi), .guest(.tripleFault), .guest(.rsm),
                                         .emulate(.vmmcall), .emulate(.stgi), .emulate(.clgi), .emulate(.rsm)]
    static let platformBare: [Operation] = [.smi, .initSignal, .signal, .run, .reset]
    static let gpa = PatchField(name: "gpa", table: .vmcbGpa)
    static let gpaSiblings: [(UInt64) -> Operation] = [{ .guest(.vmrun(gpa: $0)) }, { .guest(.vmload(gpa: $0)) },
                                                      { .guest(.vmsave(gpa: $0)) }, { .emulate(.vmrun(gpa: $0)) },
                                                      { .emulate(.vmload(gpa: $0)) }, { .emulate(.vmsave(gpa: $0)) }]

    static func describe(_ k: OperationKind) -> OperationDescription {
        switch k {
        case .wrmsr: return wrmsr
        case .vmrun:
            return .operand(k, "vmrun", gpa, opcode: .at(0x26, 18), make: { .guest(.vmrun(gpa: $0)) }, get: {
                if case .guest(.vmrun(let x)) = $0 { return x } else { return 0 }
            }, siblings: gpaSiblings)
        case .vmload:
            return .operand(k, "vmload", gpa, opcode: .at(0x50, 5), make: { .guest(.vmload(gpa: $0)) }, get: {
                if case .guest(.vmload(let x)) = $0 { return x } else { return 0 }
            }, siblings: gpaSiblings)
        case .vmsave:
            return .operand(k, "vmsave", gpa, opcode: .at(0x55, 5), make: { .guest(.vmsave(gpa: $0)) }, get: {
                if case .guest(.vmsave(let x)) = $0 { return x } else { return 0 }
            }, siblings: gpaSiblings)
        case .vmmcall: return .bare(k, "vmmcall", .guest(.vmmcall), opcode: .at(0x38, 8), siblings: guestBare)
        case .stgi: return .bare(k, "stgi", .guest(.stgi), opcode: .at(0x40, 8), siblings: guestBare)
        case .clgi: return .bare(k, "clgi", .guest(.clgi), opcode: .at(0x48, 8), siblings: guestBare)
        case .tripleFault: return .bare(k, "triple_fault", .guest(.tripleFault), opcode: .at(0x5a, 4), siblings: guestBare)
        case .rsm: return .bare(k, "rsm", .guest(.rsm), opcode: .at(0x5e, 5), siblings: guestBare)
        case .vmcb: return vmcb
        case .raceVmcb: return raceVmcb
        case .msrpm: return msrpm
        case .smram:
            return .patch(k, "smram", SmramPatch.self, opcode: .at(0x83, 6), make: Operation.smram, get: {
                if case .smram(let p) = $0 { return p } else { return nil }
            }, shrinks: false, lowerToPlan: { p in
                let w = KvmPlan.smramWrites(p)
                return w.isEmpty ? "nop what=smram" : "mem " + w.joined(separator: " ")
            })
        case .smi: return .bare(k, "smi", .smi, opcode: .at(0x97, 6), siblings: platformBare)
        case .initSignal: return .bare(k, "init", .initSignal, opcode: .at(0x9d, 5), siblings: platformBare)
        case .signal: return .bare(k, "signal", .signal, opcode: .at(0xa2, 3), siblings: platformBare)
        case .run: return run
        case .setSregs:
            return .patch(k, "set_sregs", SregsPatch.self, opcode: .at(0xa9, 17), make: Operation.setSregs, get: {
                if case .setSregs(let p) = $0 { return p } else { return nil }
            })
        case .setRegs:
            return .patch(k, "set_regs", RegsPatch.self, opcode: .at(0xba, 6), make: Operation.setRegs, get: {
                if case .setRegs(let p) = $0 { return p } else { return nil }
            })
        case .setMsrs:
            return .patch(k, "set_msrs", MsrsPatch.self, opcode: .at(0xc0, 10), make: Operation.setMsrs, get: {
                if case .setMsrs(let p) = $0 { return p } else { return nil }
            })
        case .setNestedState: return setNestedState
        case .setVcpuEvents:
            return .patch(k, "set_vcpu_events", EventsPatch.self, opcode: .at(0xd4, 8), make: Operation.setVcpuEvents,
                          get: { if case .setVcpuEvents(let p) = $0 { return p } else { return nil } })
        case .snapshot: return snapshot
        case .restore: return restore
        // 0xfd-0xff went to emulate and run's doors (EmulateDescription.swift, RunDescription.swift).
        case .reset: return .bare(k, "reset", .reset, opcode: .at(0xfa, 3), siblings: platformBare)
        case .expect: return expect
        case .emulate: return emulate
        }
    }
}
