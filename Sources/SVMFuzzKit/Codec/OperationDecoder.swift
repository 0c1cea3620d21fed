// Streaming decoder of the byte encoding; no heap allocation per operation (it runs in the libFuzzer loop).
//
// Payloads (v<T> = one value of table T, see ValueTables.swift; missing bytes take defaults):
//   wrmsr_efer v<efer> | wrmsr_hsave v<hsaveGpa> | wrmsr_vm_cr v<vmCr>
//   wrmsr_other v<msrIndex> v<table of that MSR: efer/hsaveGpa/vmCr, else general>
//   vmrun, vmload, vmsave v<vmcbGpa>; vmmcall, stgi, clgi, triple_fault, rsm: none
//   vmcb v<vmcbGpa>                         DefaultVmcb12.value
//   vmcb_edits v<vmcbGpa> (F v)*            DefaultVmcb12.value with edits: field byte F picks
//                                           VmcbField.decode(F) (0x7e DR6, 0x7f DR7, else (F & 0x7f) % 26),
//                                           then its value; the list goes on while F & 0x80
//                                           (interceptToggle's value is one raw byte)
//   race_vmcb (F v)*                        the same edit list without a GPA (at least one edit is read;
//                                           the encoder writes the default image as efer := its default)
//   msrpm v<msrpmGpa> W R                   W, R: the write and read intercept bits (MsrpmImage)
//   smram M0 M1 v...                        M0 | M1 << 8: which SmramPatch fields follow, in field order
//   enter_l2 v<vmcbGpa>                     expands to ByteCodec.enterL2(vmcb:)
//   smi, init, run, reset: none
//   set_sregs / set_regs / set_msrs / set_vcpu_events M v...   M: which patch fields follow
//   set_nested_state B v<nestedFlags>? v<vmcbGpa>? v<nestedFormat>? v<nestedSize>?
//                                           B: slot bits 0-1, then which overrides follow: flags bit 2,
//                                           vmcb_pa bit 3, format bit 4, size bit 5
//   snapshot B                              slot B & 3
//   restore B [literal]                     slot B & 3, order and target B >> 2 (RestoreOrders.swift)
//   destroy                                 none

import SVMModel

public struct OperationDecoder {
    let bytes: UnsafeRawBufferPointer
    /// Bytes consumed so far.
    public private(set) var offset: Int
    /// Where the operations start (after the config header).
    public let bodyStart: Int
    public let config: ProgramConfig
    /// Operations of an enter-L2 expansion still to return (3, 2, 1), and its vmcb12 GPA.
    var pending: UInt8 = 0
    var pendingGpa: UInt64 = 0
    /// A read past the end took a default: the operation (or header) just decoded was truncated, so its
    /// bytes are not self-delimiting if something is appended after them.
    private(set) var ranOut = false

    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        var o = 0
        var cfg = ProgramConfig()
        if let first = bytes.first, ByteCodec.isConfigMagic(first) {
            o = 1
            var host: UInt8? = nil
            if first == ByteCodec.configMagicExtended && o < bytes.count && bytes[o] >= ByteCodec.hostByteBase {
                host = bytes[o]
                o += 1
            }
            if o < bytes.count { cfg = ByteCodec.decodeConfig(bytes[o]); o += 1 } else { ranOut = true }
            if let host { ByteCodec.decodeHost(host, into: &cfg) }
            if first == ByteCodec.configMagicWithVariant || first == ByteCodec.configMagicExtended, o >= bytes.count {
                ranOut = true
            } else if first == ByteCodec.configMagicWithVariant {
                cfg.variant = ByteCodec.variantFor(Int(bytes[o]))
                o += 1
            } else if first == ByteCodec.configMagicExtended {
                let x = bytes[o]
                ByteCodec.decodeExtension(x, into: &cfg)
                o += 1
                if x & ByteCodec.secondExtensionFlag != 0 {
                    if o < bytes.count {
                        ByteCodec.decodeSecondExtension(bytes[o], into: &cfg)
                        o += 1
                    } else {
                        ranOut = true
                    }
                }
            }
        }
        offset = o
        bodyStart = o
        config = cfg
    }

    /// A decoder of operations only (no config header), e.g. for one operation's bytes.
    init(body bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        offset = 0
        bodyStart = 0
        config = ProgramConfig()
    }

    @inline(__always) public mutating func next() -> Operation? {
        if pending > 0 {
            defer { pending -= 1 }
            switch pending {
            case 3: return .guest(.wrmsr(msr: MSR.vmHsavePa, value: ByteCodec.enterL2Hsave))
            case 2: return .vmcb(gpa: pendingGpa, DefaultVmcb12.value)
            default: return .guest(.vmrun(gpa: pendingGpa))
            }
        }
        return decodeEncoded()
    }

    /// Consumes one encoded operation (an enter-L2 counts as one) without returning its operations;
    /// false at the end of the input.
    mutating func skipEncoded() -> Bool {
        pending = 0
        ranOut = false
        let more = decodeEncoded() != nil
        pending = 0
        return more
    }

    @inline(__always) mutating func byte() -> UInt8? {
        guard offset < bytes.count else {
            ranOut = true
            return nil
        }
        defer { offset += 1 }
        return bytes[offset]
    }

    @inline(__always) mutating func literal(_ n: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<n {
            guard let b = byte() else { break }
            v |= UInt64(b) << UInt64(8 * i)
        }
        return v
    }

    @inline(__always) mutating func value(_ t: ValueTable) -> UInt64 {
        let values = t.values
        guard let b = byte() else { return values[0] }
        let v: UInt64
        switch b {
        case ValueEscape.u8: v = literal(1)
        case ValueEscape.u16: v = literal(2)
        case ValueEscape.u32: v = literal(4)
        case ValueEscape.u64: v = literal(8)
        default: v = values[Int(b) % values.count]
        }
        return v & t.mask
    }

    mutating func patch<P: PatchFields>(_: P.Type) -> P {
        var p = P.empty
        let fields = P.fields
        var mask = UInt16(byte() ?? 0)
        if fields.count > 8 { mask |= UInt16(byte() ?? 0) << 8 }
        for i in 0..<fields.count where mask & (1 << UInt16(i)) != 0 { p[field: i] = value(fields[i].table) }
        return p
    }

    static func table(forMsr msr: UInt32) -> ValueTable {
        switch msr {
        case MSR.efer: return .efer
        case MSR.vmHsavePa: return .hsaveGpa
        case MSR.vmCr: return .vmCr
        default: return .general
        }
    }

    /// DefaultVmcb12.value with an edit list applied.
    mutating func vmcbEdits() -> Vmcb {
        var v = DefaultVmcb12.value
        while let f = byte() {
            let field = VmcbField.decode(f)
            field.set(&v, field == .interceptToggle ? UInt64(byte() ?? 0) : value(field.table))
            if f & 0x80 == 0 { break }
        }
        return v
    }

    mutating func slot() -> Slot { Slot(rawValue: (byte() ?? 0) & 3) ?? .a }

    @inline(__always) mutating func decodeEncoded() -> Operation? {
        guard let b = byte() else { return nil }
        let e = OperationDescriptions.byByte[Int(b)]
        guard let decode = e.decode else {
            pendingGpa = value(.vmcbGpa)
            pending = 3
            return .guest(.wrmsr(msr: MSR.efer, value: ByteCodec.enterL2Efer))
        }
        return decode(e.index, &self)
    }

    /// `opcode`: which of wrmsr's opcodes (efer, hsave_pa, vm_cr, any).
    mutating func wrmsr(_ opcode: Int) -> Operation {
        switch opcode {
        case 0: return .guest(.wrmsr(msr: MSR.efer, value: value(.efer)))
        case 1: return .guest(.wrmsr(msr: MSR.vmHsavePa, value: value(.hsaveGpa)))
        case 2: return .guest(.wrmsr(msr: MSR.vmCr, value: value(.vmCr)))
        default:
            let msr = UInt32(truncatingIfNeeded: value(.msrIndex))
            return .guest(.wrmsr(msr: msr, value: value(OperationDecoder.table(forMsr: msr))))
        }
    }

    mutating func restore() -> Operation {
        let b = byte() ?? 0
        let index = b >> 2
        let order = index >= RestoreOrders.literalIndex
            ? RestoreOrders.literal { byte() }
            : RestoreOrders.table[Int(index) % RestoreOrders.table.count]
        let fresh = index >= RestoreOrders.freshLiteralIndex
            || (index >= RestoreOrders.freshIndex && index < RestoreOrders.literalIndex)
        return .restore(Slot(rawValue: b & 3) ?? .a, order, intoFresh: fresh)
    }
}
