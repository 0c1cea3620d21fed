// The descriptions of set_nested_state, snapshot, restore and expect.

import SVMModel

extension OperationDescriptions {
    static let setNestedState = OperationDescription(
        kind: .setNestedState, name: "set_nested_state",
        fields: [PatchField(name: "flags", table: .nestedFlags), PatchField(name: "vmcb_pa", table: .vmcbGpa)],
        opcodes: [.at(0xca, 10)],
        example: .setNestedState(.b, flags: NestedFlag.guestMode, vmcbPa: 0x10000),
        parse: SVMText.parseSetNestedState,
        print: { o in
            guard case .setNestedState(let slot, let flags, let pa) = o else { return "" }
            var s = "set_nested_state \(slot)"
            if let flags { s += " flags=\(SVMText.flagList(flags))" }
            if let pa { s += " vmcb_pa=\(SVMNumber.hex(pa))" }
            return s
        },
        encode: { o, e in
            guard case .setNestedState(let slot, let flags, let pa) = o else { return }
            e.op(.setNestedState)
            e.bytes.append(slot.rawValue | (flags != nil ? 4 : 0) | (pa != nil ? 8 : 0))
            if let f = flags { e.value(UInt64(f), .nestedFlags) }
            if let pa { e.value(pa, .vmcbGpa) }
        },
        decode: { _, d in
            let b = d.byte() ?? 0
            let flags = b & 4 != 0 ? UInt32(truncatingIfNeeded: d.value(.nestedFlags)) : nil
            let pa = b & 8 != 0 ? d.value(.vmcbGpa) : nil
            return .setNestedState(Slot(rawValue: b & 3) ?? .a, flags: flags, vmcbPa: pa)
        },
        tweak: { o, rng in
            guard case .setNestedState(let s, let flags, let pa) = o else { return o }
            return OperationTweak.setNestedState(s, flags, pa, &rng)
        },
        simplify: { o in
            guard case .setNestedState(let slot, let flags, let pa) = o else { return [] }
            var out: [Operation] = []
            if flags != nil { out.append(.setNestedState(slot, flags: nil, vmcbPa: pa)) }
            if pa != nil { out.append(.setNestedState(slot, flags: flags, vmcbPa: nil)) }
            return out
        },
        lowerToPlan: { o in
            guard case .setNestedState(let slot, let flags, let pa) = o else { return "" }
            return KvmPlan.fields("set_nested_state slot=\(slot)", [("flags", flags.map(UInt64.init)), ("vmcb_pa", pa)])
        })

    static let snapshot = OperationDescription(
        kind: .snapshot, name: "snapshot", fields: [], opcodes: [.at(0xdc, 14)], example: .snapshot(.c),
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
            e.op(.snapshot)
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
        kind: .restore, name: "restore", fields: [], opcodes: [.at(0xea, 16)],
        example: .restore(.d, RestoreOrder([.nested, .sregs])!),
        parse: SVMText.parseRestore,
        print: { o in
            guard case .restore(let slot, let order) = o else { return "" }
            return "restore \(slot) order=\(order)"
        },
        encode: { o, e in if case .restore(let slot, let order) = o { e.restore(slot, order) } },
        decode: { _, d in d.restore() },
        tweak: { o, rng in
            guard case .restore(let s, let order) = o else { return o }
            return OperationTweak.restore(s, order, &rng)
        },
        simplify: { o in
            guard case .restore(let slot, let order) = o, order != .qemu else { return [] }
            return [.restore(slot, .qemu)]
        },
        lowerToPlan: { o in
            guard case .restore(let slot, let order) = o else { return "" }
            return "restore slot=\(slot) order=\(order.steps.map(\.description).joined(separator: ","))"
        })

    /// Not encoded (the fuzzer never generates it), never mutated or shrunk (the minimizer drops expects).
    static let expect = OperationDescription(
        kind: .expect, name: "expect", fields: [], opcodes: [],
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
