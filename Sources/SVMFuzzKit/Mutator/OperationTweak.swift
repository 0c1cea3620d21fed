// "Tweak one field of one operation": move a value to a neighbour in its value table (which is how a
// valid vmcb12 field crosses a consistency-check boundary), to a random table entry, or flip one bit;
// toggle a patch field's presence; change a slot or a restore order.

import SVMModel

enum OperationTweak {
    /// A bit flip one time in 8, any entry of the table three times in 8 (so an entry many steps from the
    /// common value is not much rarer than its neighbours), else the next or previous entry.
    static func neighbour(_ v: UInt64, _ t: ValueTable, _ rng: inout MutatorRng) -> UInt64 {
        let values = t.values
        switch rng.below(8) {
        case 0: return (v ^ (1 << UInt64(rng.below(t.bits)))) & t.mask
        case 1...3: return values[rng.below(values.count)]
        default:
            guard let i = values.firstIndex(of: v) else { return values[0] }
            return values[(i + (rng.chance(2) ? 1 : values.count - 1)) % values.count]
        }
    }

    static func optional(_ v: UInt64?, _ t: ValueTable, _ rng: inout MutatorRng) -> UInt64? {
        guard let v else { return t.values[rng.below(t.values.count)] }
        return rng.chance(4) ? nil : neighbour(v, t, &rng)
    }

    static func patch<P: PatchFields>(_ p: P, _ rng: inout MutatorRng) -> P {
        var p = p
        let i = rng.below(P.fields.count)
        p[field: i] = optional(p[field: i], P.fields[i].table, &rng)
        return p
    }

    static func slot(_ s: Slot, _ rng: inout MutatorRng) -> Slot {
        Slot(rawValue: (s.rawValue + 1 + UInt8(rng.below(3))) & 3) ?? s
    }

    static func other<T: Equatable>(_ x: T, in all: [T], _ rng: inout MutatorRng) -> T {
        let rest = all.filter { $0 != x }
        return rest.isEmpty ? x : rest[rng.below(rest.count)]
    }

    static func tweak(_ op: Operation, _ rng: inout MutatorRng) -> Operation { op.spec.tweak(op, &rng) }

    static func msrpm(_ gpa: UInt64, _ image: MsrpmImage, _ rng: inout MutatorRng) -> Operation {
        var image = image
        if rng.chance(4) { return .msrpm(gpa: neighbour(gpa, .msrpmGpa, &rng), image) }
        let bit = UInt8(1) << UInt8(rng.below(MsrpmImage.known.count))
        if rng.chance(2) { image.writes ^= bit } else { image.reads ^= bit }
        return .msrpm(gpa: gpa, image)
    }

    static func setNestedState(_ s: Slot, _ flags: UInt32?, _ pa: UInt64?, _ format: UInt16?, _ size: UInt32?,
                               _ rng: inout MutatorRng) -> Operation {
        var (s, flags, pa, format, size) = (s, flags, pa, format, size)
        switch rng.below(8) {
        case 0, 1: s = slot(s, &rng)
        case 2, 3: flags = optional(flags.map(UInt64.init), .nestedFlags, &rng).map(UInt32.init)
        case 4, 5: pa = optional(pa, .vmcbGpa, &rng)
        case 6: format = optional(format.map(UInt64.init), .nestedFormat, &rng).map { UInt16(truncatingIfNeeded: $0) }
        default: size = optional(size.map(UInt64.init), .nestedSize, &rng).map { UInt32(truncatingIfNeeded: $0) }
        }
        return .setNestedState(s, flags: flags, vmcbPa: pa, format: format, size: size)
    }

    static func restore(_ s: Slot, _ order: RestoreOrder, _ fresh: Bool, _ rng: inout MutatorRng) -> Operation {
        switch rng.below(4) {
        case 0: return .restore(slot(s, &rng), order, intoFresh: fresh)
        case 1: return .restore(s, RestoreOrders.all[rng.below(RestoreOrders.all.count)], intoFresh: fresh)
        case 2: return .restore(s, RestoreOrders.table[rng.below(RestoreOrders.table.count)], intoFresh: fresh)
        default: return .restore(s, order, intoFresh: !fresh)
        }
    }

    /// One vmcb field moved: mostly the first dozen (EFER, CRs, intercepts, ASID, bitmaps, int_ctl, NP).
    static func vmcbField(_ v: Vmcb, _ rng: inout MutatorRng) -> Vmcb {
        var v = v
        let n = rng.chance(4) ? Int(VmcbField.count) : 12
        guard let f = VmcbField(rawValue: UInt8(rng.below(n))) else { return v }
        f.set(&v, f == .interceptToggle ? UInt64(rng.below(InterceptSet.named.count)) : neighbour(f.get(v), f.table, &rng))
        return v
    }

    static func wrmsr(_ msr: UInt32, _ v: UInt64, _ rng: inout MutatorRng) -> GuestInstruction {
        if rng.chance(4) {
            return .wrmsr(msr: UInt32(truncatingIfNeeded: neighbour(UInt64(msr), .msrIndex, &rng)), value: v)
        }
        return .wrmsr(msr: msr, value: neighbour(v, OperationDecoder.table(forMsr: msr), &rng))
    }
}
