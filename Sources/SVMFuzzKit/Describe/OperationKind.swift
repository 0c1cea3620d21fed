// The shape of an operation without its values: one case per Operation shape (and per guest
// instruction), in .svm name order. Each kind has one description (Descriptions.swift).

import SVMModel

enum OperationKind: UInt8, CaseIterable {
    case wrmsr, vmrun, vmmcall, stgi, clgi, vmload, vmsave, tripleFault, rsm
    case vmcb, raceVmcb, msrpm, smram
    case smi, initSignal, signal
    case run, setSregs, setRegs, setMsrs, setNestedState, setVcpuEvents, snapshot, restore, reset
    case expect
    case emulate
    case destroy

    /// The kind's description.
    @inline(__always) var spec: OperationDescription { OperationDescriptions.all[Int(rawValue)] }
}

extension Operation {
    var kind: OperationKind {
        switch self {
        case .guest(let g):
            switch g {
            case .wrmsr: return .wrmsr
            case .vmrun: return .vmrun
            case .vmmcall: return .vmmcall
            case .stgi: return .stgi
            case .clgi: return .clgi
            case .vmload: return .vmload
            case .vmsave: return .vmsave
            case .tripleFault: return .tripleFault
            case .rsm: return .rsm
            }
        case .vmcb: return .vmcb
        case .racingVmcb: return .raceVmcb
        case .msrpm: return .msrpm
        case .smram: return .smram
        case .smi: return .smi
        case .initSignal: return .initSignal
        case .signal: return .signal
        case .run, .runWith: return .run
        case .setSregs: return .setSregs
        case .setRegs: return .setRegs
        case .setMsrs: return .setMsrs
        case .setNestedState: return .setNestedState
        case .setVcpuEvents: return .setVcpuEvents
        case .snapshot: return .snapshot
        case .restore: return .restore
        case .reset: return .reset
        case .expect: return .expect
        case .emulate: return .emulate
        case .destroy: return .destroy
        }
    }
}
