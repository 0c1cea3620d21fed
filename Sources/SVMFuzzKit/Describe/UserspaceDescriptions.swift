// The descriptions of set_nested_state, snapshot, restore and expect.

import SVMModel

extension OperationDescriptions {
    static let setNestedStateOpcode = Opcode.at(0xca, 10)
    static let snapshotOpcode = Opcode.at(0xdc, 14)

    static let setNestedState = OperationDescription(
        name: "set_nested_state",
        fields: [PatchField(name: "flags", table: .nestedFlags), PatchField(name: "vmcb_pa", table: .vmcbGpa),
                 PatchField(name: "format", table: .nestedFormat), PatchField(name: "size", table: .nestedSize)],
        opcodes: [setNestedStateOpcode],
        example: .setNestedState(.b, flags: NestedFlag.guestMode, vmcbPa: 0x10000, format: 0, size: 0x80),
        parse: SVMText.parseSetNestedState,
        print: { o in
            guard case .setNestedState(let slot, let flags, let pa, let format, let size) = o else { return "" }
            var s = "set_nested_state \(slot)"
            if let flags { s += " flags=\(SVMText.flagList(flags))" }
            if let pa { s += " vmcb_pa=\(SVMNumber.hex(pa))" }
            if let format { s += " format=\(format)" }
            if let size { s += " size=\(SVMNumber.hex(UInt64(size)))" }
            return s
        },
        encode: { o, e in
            guard case .setNestedState(let slot, let flags, let pa, let format, let size) = o else { return }
            e.op(setNestedStateOpcode)
            e.bytes.append(slot.rawValue | (flags != nil ? 4 : 0) | (pa != nil ? 8 : 0) | (format != nil ? 0x10 : 0)
                           | (size != nil ? 0x20 : 0))
            if let f = flags { e.value(UInt64(f), .nestedFlags) }
            if let pa { e.value(pa, .vmcbGpa) }
            if let format { e.value(UInt64(format), .nestedFormat) }
            if let size { e.value(UInt64(size), .nestedSize) }
        },
        decode: { _, d in
            let b = d.byte() ?? 0
            let flags = b & 4 != 0 ? UInt32(truncatingIfNeeded: d.value(.nestedFlags)) : nil
            let pa = b & 8 != 0 ? d.value(.vmcbGpa) : nil
            let format = b & 0x10 != 0 ? UInt16(truncatingIfNeeded: d.value(.nestedFormat)) : nil
            let size = b & 0x20 != 0 ? UInt32(truncatingIfNeeded: d.value(.nestedSize)) : nil
            return .setNestedState(Slot(rawValue: b & 3) ?? .a, flags: flags, vmcbPa: pa, format: format, size: size)
        },
        tweak: { o, rng in
            guard case .setNestedState(let s, let flags, let pa, let format, let size) = o else { return o }
            return OperationTweak.setNestedState(s, flags, pa, format, size, &rng)
        },
        simplify: { o in
            guard case .setNestedState(let slot, let flags, let pa, let format, let size) = o else { return [] }
            var out: [Operation] = []
            if flags != nil { out.append(.setNestedState(slot, flags: nil, vmcbPa: pa, format: format, size: size)) }
            if pa != nil { out.append(.setNestedState(slot, flags: flags, vmcbPa: nil, format: format, size: size)) }
            if format != nil { out.append(.setNestedState(slot, flags: flags, vmcbPa: pa, format: nil, size: size)) }
            if size != nil { out.append(.setNestedState(slot, flags: flags, vmcbPa: pa, format: format, size: nil)) }
            return out
        },
        lowerToPlan: { o in
            guard case .setNestedState(let slot, let flags, let pa, let format, let size) = o else { return "" }
            return KvmPlan.fields("set_nested_state slot=\(slot)", [("flags", flags.map(UInt64.init)), ("vmcb_pa", pa),
                                                                    ("format", format.map(UInt64.init)),
                                                                    ("size", size.map(UInt64.init))])
        })

    static let snapshot = OperationDescription(
        name: "snapshot", fields: [], opcodes: [snapshotOpcode], example: .snapshot(.c),
        parse: { r in
            let s = try r.slot(after: "snapshot")
            try r.end()
            return .snapshot(s)
        },
        print: { o in
            guard case .snapshot(let slot) = o else { return "" }
            return "snapshot \(slot)"
        },
        encode: { o, e in
            guard case .snapshot(let slot) = o else { return }
            e.op(snapshotOpcode)
            e.bytes.append(slot.rawValue)
        },
        decode: { _, d in .snapshot(d.slot()) },
        tweak: { o, rng in
            guard case .snapshot(let s) = o else { return o }
            return .snapshot(OperationTweak.slot(s, &rng))
        },
        simplify: { _ in [] },
        lowerToPlan: { o in
            guard case .snapshot(let slot) = o else { return "" }
            return "snapshot slot=\(slot)"
        })

    static let restore = OperationDescription(
        name: "restore", fields: [], opcodes: [.at(0xea, 16)],
        example: .restore(.d, RestoreOrder([.nested, .sregs])!, intoFresh: true),
        parse: SVMText.parseRestore,
        print: { o in
            guard case .restore(let slot, let order, let fresh) = o else { return "" }
            return "restore \(slot) order=\(order)" + (fresh ? " into=fresh" : "")
        },
        encode: { o, e in if case .restore(let slot, let order, let fresh) = o { e.restore(slot, order, intoFresh: fresh) } },
        decode: { _, d in d.restore() },
        tweak: { o, rng in
            guard case .restore(let s, let order, let fresh) = o else { return o }
            return OperationTweak.restore(s, order, fresh, &rng)
        },
        simplify: { o in
            guard case .restore(let slot, let order, let fresh) = o else { return [] }
            var out: [Operation] = []
            if fresh { out.append(.restore(slot, order)) }
            if order != .qemu { out.append(.restore(slot, .qemu, intoFresh: fresh)) }
            return out
        },
        lowerToPlan: { o in
            guard case .restore(let slot, let order, let fresh) = o else { return "" }
            return "restore slot=\(slot) order=\(order.steps.map(\.description).joined(separator: ","))" + (fresh ? " fresh=1" : "")
        })

    /// Not encoded (the fuzzer never generates it), never mutated or shrunk (the minimizer drops expects).
    static let expect = OperationDescription(
        name: "expect", fields: [], opcodes: [],
        example: .expect(Expectation(exit: .shutdown, gif: true)),
        parse: { r in .expect(try SVMText.parseExpect(&r)) },
        print: { o in
            guard case .expect(let e) = o else { return "" }
            return SVMText.expectLine(e)
        },
        encode: { _, _ in },
        decode: { _, _ in .expect(Expectation()) },
        tweak: { o, _ in o },
        simplify: { _ in [] },
        lowerToPlan: { _ in "nop what=expect" })
}
