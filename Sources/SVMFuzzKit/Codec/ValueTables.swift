// The value tables of the byte encoding: each field of an operation reads one "value byte" that indexes a
// small table of meaningful values for that field (valid and invalid across the consistency checks), or
// escapes to a literal so that every value is representable.
//
// Value byte b:
//   0x00...0xfb  table[b % table.count]      (the canonical index is the first position of the value)
//   0xfc         one-byte literal follows    \xfc XX
//   0xfd         two-byte little-endian literal
//   0xfe         four-byte little-endian literal
//   0xff         eight-byte little-endian literal
// A missing value byte (end of input) gives table[0]; a truncated literal reads the missing bytes as 0.
// Values are truncated to the field's width (32 bits for asid, int_ctl, MSR indices, nested flags...).

import SVMModel

enum ValueEscape {
    static let u8: UInt8 = 0xfc
    static let u16: UInt8 = 0xfd
    static let u32: UInt8 = 0xfe
    static let u64: UInt8 = 0xff
    /// Value bytes below this index a table.
    static let firstEscape: UInt8 = 0xfc
}

enum ValueTable: UInt8, CaseIterable {
    case efer, cr0, cr2, cr3, cr4
    case vmcbGpa, msrpmGpa, iopmGpa, hsaveGpa
    case general, rflags
    case asid, intCtl, miscCtl, interceptMisc, interceptExceptions, exitCode, cpl
    case msrIndex, vmCr, nestedFlags, bool
    case csAttrib
    case eventInj
    case dr6, dr7
    case exceptionVector, errorCode
    case nestedFormat, nestedSize

    @inline(__always) var values: [UInt64] { ValueTables.all[Int(rawValue)] }

    /// The field's width in bits; decoded literals are truncated to it.
    var bits: Int {
        switch self {
        case .asid, .intCtl, .interceptExceptions, .msrIndex, .nestedFlags, .eventInj, .errorCode, .nestedSize: return 32
        case .cpl, .exceptionVector: return 8
        case .csAttrib, .nestedFormat: return 16
        case .bool: return 1
        default: return 64
        }
    }

    @inline(__always) var mask: UInt64 { bits == 64 ? ~0 : (1 << UInt64(bits)) - 1 }

    /// The index of `value` in the table, if it is there.
    func index(of value: UInt64) -> Int? { values.firstIndex(of: value) }
}

enum ValueTables {
    static let all: [[UInt64]] = ValueTable.allCases.map(make)

    private static func make(_ t: ValueTable) -> [UInt64] {
        switch t {
        case .efer: return [
            0x1d01,             // SCE|LME|LMA|NX|SVME: what L1 runs nested guests with
            0x0d01,             // same without SVME (clearing SVME in L2 is the series' subject)
            0x1501,             // SVME without NX
            0x1d00, 0x1000, 0x0,
            0x0500,             // LME|LMA
            0x1100,             // SVME|LME without LMA
            0x0d00, 0x0100, 0x1401,
            0x3d01,             // bit 13 (LMSLE: refused, accepted by kernels without disallow-lmsle-when-mbz)
            0x1_0000_1d01,      // reserved high bit
        ]
        case .cr0: return [
            0x8005_0033,        // PG|AM|WP|NE|ET|MP|PE
            0x0005_0033,        // paging off
            0x6000_0010,        // reset value CD|NW|ET
            0x8000_0011,        // PG|ET|PE
            0xa005_0033,        // NW without CD: invalid
            0x8005_0032,        // PG without PE: invalid
            0x1_8005_0033,      // reserved bit 32: invalid
            0x0, 0xe005_0033,
        ]
        case .cr2: return [0x0, 0x1000, 0xdead_b000, ~0]
        case .cr3: return [0x3000, 0x0, 0x1000, 0x5000, 0x3008, 0xffff_f000, 0x1_0000_0000, 1 << 48, 1 << 63]
        case .cr4: return [
            0x20,               // PAE
            0x0, 0x2_0020,      // PAE|PCIDE
            0x6f0, 0x30_0020,   // PAE|SMEP|SMAP
            0x820,              // UMIP: reserved for this model
            0x40_0020,          // PKE: reserved for this model
            (1 << 63) | 0x20,
        ]
        case .vmcbGpa: return [0x10000, 0x11000, 0x12000, 0x0, 0x10008, 0xffff_f000, 0x1_0000_0000, 1 << 48,
                               0x20000, 0x40000, 0x30000, ~0]
        case .msrpmGpa: return [0x20000, 0x0, 0x22000, 0x20008, 0xffff_f000, 0x1_0000_0000, 1 << 48, 0x10000]
        case .iopmGpa: return [0x0, 0x24000, 0x24008, 0xffff_e000, 0x1_0000_0000, 1 << 48]
        case .hsaveGpa: return [0x40000, 0x0, 0x40008, 0x10000, 0x30000, 0xffff_f000, 0x1_0000_0000, 1 << 48, ~0]
        case .general: return [0x0, 0x1000, 0x4000, 0x8000, 0x2000, 0x1, 0xffff_ffff, ~0,
                               0x8000_0000_0000_0000, 0xffff_8000_0000_0000, 0x0000_8000_0000_0000]
        case .rflags: return [0x2, 0x202, 0x0, 0x102, 0x2_0002, 0x46, 0x3002]
        case .asid: return [1, 0, 2, 0xffff_ffff]
        case .intCtl: return [0x0, UInt64(IntCtl.vGifEnable | IntCtl.vGif), UInt64(IntCtl.vGifEnable),
                              UInt64(IntCtl.vGif), 0x0100_0000,
                              UInt64(IntCtl.vNmiEnable)]    // without the NMI intercept: VMEXIT_INVALID
        case .miscCtl: return [MiscCtl.enableNp, 0x0]
        case .interceptMisc:
            let d = DefaultVmcb12.value.control.intercepts.misc
            let all = InterceptSet.named.reduce(UInt64(0)) { $0 | $1.1.misc }
            return [d, InterceptSet.vmrun.misc, 0,
                    d | InterceptSet.shutdown.misc | InterceptSet.msrProt.misc,
                    d | InterceptSet.stgi.misc | InterceptSet.clgi.misc,
                    d | InterceptSet.vmload.misc | InterceptSet.vmsave.misc,
                    d | InterceptSet.initSignal.misc | InterceptSet.smi.misc | InterceptSet.intr.misc | InterceptSet.nmi.misc,
                    d | InterceptSet.shutdown.misc, d | InterceptSet.msrProt.misc, all]
        case .interceptExceptions:
            return [0, UInt64(InterceptSet.gp.exceptions), UInt64(InterceptSet.ud.exceptions),
                    UInt64(InterceptSet.gp.exceptions | InterceptSet.ud.exceptions), 0xffff_ffff]
        case .exitCode: return [0x0, SVMExit.msr, SVMExit.vmrun, SVMExit.vmmcall, SVMExit.shutdown, SVMExit.sw, SVMExit.err]
        case .cpl: return [0, 3, 1, 2]
        case .msrIndex: return [MSR.efer, MSR.vmHsavePa, MSR.vmCr, MSR.star, MSR.lstar, 0xc000_0100, 0x10, 0x0,
                                0x2000, 0xc001_1fff].map(UInt64.init)
        case .vmCr: return [0x0, VMCR.lock, VMCR.svmDis, VMCR.lock | VMCR.svmDis, 0x1, 0x20]
        case .nestedFlags:
            let g = NestedFlag.guestMode, r = NestedFlag.runPending, s = NestedFlag.gifSet
            return [g | s, 0, g, s, g | r | s, r, g | r, r | s, NestedFlag.evmcs, NestedFlag.mtfPending].map(UInt64.init)
        case .bool: return [0, 1]
        // 0, 64-bit code (L), L and D together (illegal in long mode), 32-bit code (D, G)
        case .csAttrib: return [0x0, 0x29b, 0x69b, 0xc9b]
        case .eventInj: return [
            0,
            0x8000_0480,        // valid, software interrupt INT 0x80 (pushes NextRIP)
            0x8000_0320,        // valid, external interrupt 0x20
            0x8000_0303,        // valid, #BP as an exception (soft: pushes NextRIP)
            0x8000_0b0d,        // valid, #GP with an error code
            0x8000_0200,        // valid, NMI
            0x8000_0502,        // valid with an undefined type (5): VMRUN must fail
            0x8000_0302,        // valid exception with vector 2 (not an exception): VMRUN must fail
        ]
        // DR6/DR7 at reset, zero, and with bit 32 or every bit set (VMRUN's checks refuse bits 63:32).
        case .dr6: return [DebugReg.dr6Reset, 0x0, (1 << 32) | DebugReg.dr6Reset, ~0]
        case .dr7: return [DebugReg.dr7Reset, 0x0, (1 << 32) | DebugReg.dr7Reset, ~0]
        case .exceptionVector: return [
            13, 6, 14, 1,       // #GP, #UD, #PF, #DB
            3,                  // #BP: soft, KVM_GET_VCPU_EVENTS does not report it
            8, 0, 17, 18, 31,
            2, 32, 255,         // NMI's vector and vectors above 31: KVM_SET_VCPU_EVENTS refuses them
        ]
        case .errorCode: return [0x0, 0x1, 0x10, 0xffff, 0xffff_ffff]
        // KVM_STATE_NESTED_FORMAT_SVM, _VMX, and formats no kernel has.
        case .nestedFormat: return [UInt64(KvmNestedState.formatSvm), UInt64(KvmNestedState.formatVmx), 2, 0xffff]
        // Header plus data, header only, a short header, none, one byte short of the data, more than needed.
        case .nestedSize:
            let h = UInt64(KvmNestedState.headerSize), d = UInt64(KvmNestedState.vmcbSize)
            return [h + d, h, h - 1, 0, h + d - 1, h + 2 * d, 0xffff_ffff]
        }
    }
}
