// The description of every operation, and the list of them all. Adding an operation: its `Operation`
// case and its line in `Operation.spec` (Program.swift), its description here or beside the others in
// Describe/ (with its opcode bytes and plan step) listed in `all`, and its execution (Executor.swift).

import SVMModel

extension OperationDescriptions {
    /// Every description, in .svm name order (the order error messages list the operations in). The
    /// decoder's byte table is built from it and checks that the opcodes cover every byte once.
    static let all: [OperationDescription] = [
        wrmsr, vmrun, vmmcall, stgi, clgi, vmload, vmsave, tripleFault, rsm,
        vmcb, raceVmcb, msrpm, smram,
        smi, initSignal, signal,
        run, setSregs, setRegs, setMsrs, setNestedState, setVcpuEvents, snapshot, restore, reset,
        expect, emulate, destroy,
    ]

    // The siblings include the same instructions behind KVM's forced-emulation prefix (EmulateDescription.swift).
    static let guestBare: [Operation] = [.guest(.vmmcall), .guest(.stgi), .guest(.clgi), .guest(.tripleFault), .guest(.rsm),
                                         .emulate(.vmmcall), .emulate(.stgi), .emulate(.clgi), .emulate(.rsm)]
    static let platformBare: [Operation] = [.smi, .initSignal, .signal, .run, .reset, .destroy]
    static let gpa = PatchField(name: "gpa", table: .vmcbGpa)
    static let gpaSiblings: [(UInt64) -> Operation] = [{ .guest(.vmrun(gpa: $0)) }, { .guest(.vmload(gpa: $0)) },
                                                      { .guest(.vmsave(gpa: $0)) }, { .emulate(.vmrun(gpa: $0)) },
                                                      { .emulate(.vmload(gpa: $0)) }, { .emulate(.vmsave(gpa: $0)) }]

    static let vmrun = OperationDescription.operand("vmrun", gpa, opcode: .at(0x26, 18), make: { .guest(.vmrun(gpa: $0)) }, get: {
        if case .guest(.vmrun(let x)) = $0 { return x } else { return 0 }
    }, siblings: gpaSiblings)
    static let vmload = OperationDescription.operand("vmload", gpa, opcode: .at(0x50, 5), make: { .guest(.vmload(gpa: $0)) }, get: {
        if case .guest(.vmload(let x)) = $0 { return x } else { return 0 }
    }, siblings: gpaSiblings)
    static let vmsave = OperationDescription.operand("vmsave", gpa, opcode: .at(0x55, 5), make: { .guest(.vmsave(gpa: $0)) }, get: {
        if case .guest(.vmsave(let x)) = $0 { return x } else { return 0 }
    }, siblings: gpaSiblings)
    static let vmmcall = OperationDescription.bare("vmmcall", .guest(.vmmcall), opcode: .at(0x38, 8), siblings: guestBare)
    static let stgi = OperationDescription.bare("stgi", .guest(.stgi), opcode: .at(0x40, 8), siblings: guestBare)
    static let clgi = OperationDescription.bare("clgi", .guest(.clgi), opcode: .at(0x48, 8), siblings: guestBare)
    static let tripleFault = OperationDescription.bare("triple_fault", .guest(.tripleFault), opcode: .at(0x5a, 4), siblings: guestBare)
    static let rsm = OperationDescription.bare("rsm", .guest(.rsm), opcode: .at(0x5e, 5), siblings: guestBare)

    static let smram = OperationDescription.patch("smram", SmramPatch.self, opcode: .at(0x83, 6), make: Operation.smram, get: {
        if case .smram(let p) = $0 { return p } else { return nil }
    }, shrinks: false, lowerToPlan: { p in
        let w = KvmPlan.smramWrites(p)
        return w.isEmpty ? "nop what=smram" : "mem " + w.joined(separator: " ")
    })

    static let smi = OperationDescription.bare("smi", .smi, opcode: .at(0x97, 6), siblings: platformBare)
    static let initSignal = OperationDescription.bare("init", .initSignal, opcode: .at(0x9d, 5), siblings: platformBare)
    static let signal = OperationDescription.bare("signal", .signal, opcode: .at(0xa2, 3), siblings: platformBare)

    static let setSregs = OperationDescription.patch("set_sregs", SregsPatch.self, opcode: .at(0xa9, 17), make: Operation.setSregs, get: {
        if case .setSregs(let p) = $0 { return p } else { return nil }
    })
    static let setRegs = OperationDescription.patch("set_regs", RegsPatch.self, opcode: .at(0xba, 6), make: Operation.setRegs, get: {
        if case .setRegs(let p) = $0 { return p } else { return nil }
    })
    static let setMsrs = OperationDescription.patch("set_msrs", MsrsPatch.self, opcode: .at(0xc0, 10), make: Operation.setMsrs, get: {
        if case .setMsrs(let p) = $0 { return p } else { return nil }
    })
    static let setVcpuEvents = OperationDescription.patch("set_vcpu_events", EventsPatch.self, opcode: .at(0xd4, 8),
                                                          make: Operation.setVcpuEvents, get: {
        if case .setVcpuEvents(let p) = $0 { return p } else { return nil }
    })

    // 0xfc-0xff went to destroy, emulate and run's doors (EmulateDescription.swift, RunDescription.swift).
    // Only 0xfa-0xfb are left to take from: the next operation should make 0xfb an extension opcode
    // followed by a selector byte (as emulate's), so that later ones need no opcode of their own.
    static let reset = OperationDescription.bare("reset", .reset, opcode: .at(0xfa, 2), siblings: platformBare)
    static let destroy = OperationDescription.bare("destroy", .destroy, opcode: .at(0xfc, 1), siblings: platformBare)
}
