// The inverse of OperationDecoder: canonical opcode bytes, table indices where the value is in the table,
// otherwise the shortest literal. Four operations that match ByteCodec.enterL2 are written as one enter-L2.

import SVMModel

struct OperationEncoder {
    var bytes: [UInt8] = []

    mutating func config(_ cfg: ProgramConfig) {
        guard !cfg.isEmpty else { return }
        let host = ByteCodec.hostByte(cfg)
        if cfg.nrips != nil || host != nil || cfg.fep != nil {
            bytes.append(ByteCodec.configMagicExtended)
            if let host { bytes.append(host) }
            bytes += [ByteCodec.configByte(cfg), ByteCodec.extensionByte(cfg)]
            if cfg.fep != nil { bytes.append(ByteCodec.secondExtensionByte(cfg)) }
        } else if let v = cfg.variant {
            bytes += [ByteCodec.configMagicWithVariant, ByteCodec.configByte(cfg),
                      v.codecIndex]
        } else {
            bytes += [ByteCodec.configMagic, ByteCodec.configByte(cfg)]
        }
    }

    mutating func value(_ x: UInt64, _ t: ValueTable) {
        if let i = t.index(of: x) {
            bytes.append(UInt8(i))
            return
        }
        let (escape, n): (UInt8, Int) = x <= 0xff ? (ValueEscape.u8, 1) : x <= 0xffff ? (ValueEscape.u16, 2)
            : x <= 0xffff_ffff ? (ValueEscape.u32, 4) : (ValueEscape.u64, 8)
        bytes.append(escape)
        for i in 0..<n { bytes.append(UInt8(truncatingIfNeeded: x >> UInt64(8 * i))) }
    }

    mutating func op(_ o: Opcode) { bytes.append(o.first) }
    /// The canonical byte of the description's opcode number `index`.
    mutating func op(_ d: OperationDescription, _ index: Int = 0) { op(d.opcodes[index]) }

    mutating func patch<P: PatchFields>(_ p: P) {
        let fields = P.fields
        var mask: UInt16 = 0
        for i in 0..<fields.count where p[field: i] != nil { mask |= 1 << UInt16(i) }
        bytes.append(UInt8(mask & 0xff))
        if fields.count > 8 { bytes.append(UInt8(mask >> 8)) }
        for i in 0..<fields.count { if let x = p[field: i] { value(x, fields[i].table) } }
    }

    /// Encodes the operations, skipping `expect` and folding enter-L2 sequences.
    mutating func operations(_ all: [Operation]) {
        let ops = all.filter { if case .expect = $0 { return false } else { return true } }
        var i = 0
        while i < ops.count {
            if i + 3 < ops.count, case .vmcb(let gpa, _) = ops[i + 2],
               Array(ops[i...i + 3]) == ByteCodec.enterL2(vmcb: gpa) {
                op(ByteCodec.enterL2Opcode)
                value(gpa, .vmcbGpa)
                i += 4
            } else {
                operation(ops[i])
                i += 1
            }
        }
    }

    mutating func operation(_ o: Operation) { o.spec.encode(o, &self) }

    mutating func vmcb(_ gpa: UInt64, _ v: Vmcb) {
        let edits = OperationEncoder.edits(v)
        op(OperationDescriptions.vmcb, edits.isEmpty ? 0 : 1)
        value(gpa, .vmcbGpa)
        editList(v, edits)
    }

    mutating func racingVmcb(_ v: Vmcb) {
        op(OperationDescriptions.raceVmcb)
        let edits = OperationEncoder.edits(v)
        // The decoder reads at least one edit: the default image is "efer := the default's efer".
        editList(v, edits.isEmpty ? [.efer] : edits)
    }

    mutating func restore(_ slot: Slot, _ order: RestoreOrder, intoFresh: Bool) {
        op(OperationDescriptions.restore)
        if let i = RestoreOrders.table.firstIndex(of: order) {
            bytes.append((UInt8(i) + (intoFresh ? RestoreOrders.freshIndex : 0)) << 2 | slot.rawValue)
        } else {
            bytes.append((intoFresh ? RestoreOrders.freshLiteralIndex : RestoreOrders.literalIndex) << 2 | slot.rawValue)
            bytes += RestoreOrders.literalBytes(order)
        }
    }

    /// The fields in which `v` differs from DefaultVmcb12.value.
    static func edits(_ v: Vmcb) -> [VmcbField] {
        let base = DefaultVmcb12.value
        return VmcbField.allCases.filter { $0 != .interceptToggle && $0.get(v) != $0.get(base) }
    }

    mutating func editList(_ v: Vmcb, _ edits: [VmcbField]) {
        for (n, f) in edits.enumerated() {
            bytes.append(f.code | (n + 1 < edits.count ? 0x80 : 0))
            value(f.get(v), f.table)
        }
    }

    mutating func wrmsr(_ msr: UInt32, _ v: UInt64) {
        switch msr {
        case MSR.efer: op(OperationDescriptions.wrmsr, 0); value(v, .efer)
        case MSR.vmHsavePa: op(OperationDescriptions.wrmsr, 1); value(v, .hsaveGpa)
        case MSR.vmCr: op(OperationDescriptions.wrmsr, 2); value(v, .vmCr)
        default:
            op(OperationDescriptions.wrmsr, 3)
            value(UInt64(msr), .msrIndex)
            value(v, OperationDecoder.table(forMsr: msr))
        }
    }
}
