// The opcode byte of each encoded operation. Every byte value is an opcode: the kinds own contiguous ranges
// whose sizes are their weights (so random bytes and byte mutations mostly produce guest instructions and the
// snapshot/restore/set_sregs ioctls), and the encoder writes the first byte of the range (the canonical byte).
// Exception: the first byte of the input may be a config magic (ByteCodec.configMagic...), see ByteCodec.
//
//   0x00 wrmsr efer     0x12 wrmsr hsave_pa  0x1a wrmsr vm_cr    0x20 wrmsr <index>  0x26 vmrun
//   0x38 vmmcall        0x40 stgi            0x48 clgi           0x50 vmload         0x55 vmsave
//   0x5a triple_fault   0x5e rsm             0x63 vmcb (default) 0x6d vmcb + edits   0x77 race_vmcb
//   0x7b msrpm
//   0x83 smram          0x89 enter-L2        0x97 smi            0x9d init           0xa2 signal
//   0xa5 run
//   0xa9 set_sregs      0xba set_regs        0xc0 set_msrs       0xca set_nested_state
//   0xd4 set_vcpu_events                     0xdc snapshot       0xea restore        0xfa reset (to 0xff)

import SVMModel

enum OpKind: UInt8, CaseIterable {
    case wrmsrEfer, wrmsrHsave, wrmsrVmCr, wrmsrOther
    case vmrun, vmmcall, stgi, clgi, vmload, vmsave, tripleFault, rsm
    case vmcb, vmcbEdits, raceVmcb, msrpm, smram, enterL2
    case smi, initSignal, signal
    case run, setSregs, setRegs, setMsrs, setNestedState, setVcpuEvents, snapshot, restore, reset

    /// Range sizes; they sum to 256.
    var weight: Int {
        switch self {
        case .wrmsrEfer: return 18
        case .wrmsrHsave: return 8
        case .wrmsrVmCr: return 6
        case .wrmsrOther: return 6
        case .vmrun: return 18
        case .vmmcall: return 8
        case .stgi: return 8
        case .clgi: return 8
        case .vmload: return 5
        case .vmsave: return 5
        case .tripleFault: return 4
        case .rsm: return 5
        case .vmcb: return 10
        case .vmcbEdits: return 10
        case .raceVmcb: return 4
        case .msrpm: return 8
        case .smram: return 6
        case .enterL2: return 14
        case .smi: return 6
        case .initSignal: return 5
        case .signal: return 3
        case .run: return 4
        case .setSregs: return 17
        case .setRegs: return 6
        case .setMsrs: return 10
        case .setNestedState: return 10
        case .setVcpuEvents: return 8
        case .snapshot: return 14
        case .restore: return 16
        case .reset: return 6
        }
    }

    /// The kind of every byte value.
    static let byByte: [OpKind] = {
        var t: [OpKind] = []
        for k in allCases { t += Array(repeating: k, count: k.weight) }
        precondition(t.count == 256, "opcode weights must sum to 256")
        return t
    }()

    static let canonicalBytes: [UInt8] = {
        var b: [UInt8] = []
        var start = 0
        for k in allCases { b.append(UInt8(start)); start += k.weight }
        return b
    }()

    @inline(__always) static func of(_ byte: UInt8) -> OpKind { byByte[Int(byte)] }
    @inline(__always) var canonicalByte: UInt8 { OpKind.canonicalBytes[Int(rawValue)] }
}
