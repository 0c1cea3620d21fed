// The descriptions of wrmsr and the guest-memory operations (vmcb, race_vmcb, msrpm).

import SVMModel

extension OperationDescriptions {
    static let vmcbFields: [PatchField] = SVMNames.vmcbKeys.map { key, field in
        PatchField(name: key, table: field?.table ?? (key == "np" ? .miscCtl : .interceptMisc))
    }

    static let wrmsr = OperationDescription(
        name: "wrmsr",
        fields: [PatchField(name: "msr", table: .msrIndex), PatchField(name: "value", table: .general)],
        opcodes: [.at(0x00, 18), .at(0x12, 8), .at(0x1a, 6), .at(0x20, 6)],
        example: .guest(.wrmsr(msr: MSR.efer, value: ValueTable.efer.values[0])),
        parse: SVMText.parseWrmsr,
        print: { o in
            guard case .guest(.wrmsr(let msr, let v)) = o else { return "" }
            return "wrmsr \(SVMNames.msrName(msr) ?? SVMNumber.hex(UInt64(msr))) \(SVMNumber.hex(v))"
        },
        encode: { o, e in if case .guest(.wrmsr(let msr, let v)) = o { e.wrmsr(msr, v) } },
        decode: { i, d in d.wrmsr(i) },
        tweak: { o, rng in
            guard case .guest(.wrmsr(let msr, let v)) = o else { return o }
            // Now and then through KVM's emulator instead (EmulateDescription.swift).
            if rng.chance(8) { return .emulate(.wrmsr(msr: msr, value: v)) }
            return .guest(OperationTweak.wrmsr(msr, v, &rng))
        },
        simplify: { _ in [] },
        lowerToPlan: { o in
            guard case .guest(.wrmsr(let msr, let v)) = o else { return "" }
            return "wrmsr msr=\(KvmPlan.hex(UInt64(msr))) value=\(KvmPlan.hex(v))"
        })

    static let vmcb = OperationDescription(
        name: "vmcb", fields: [gpa] + vmcbFields, opcodes: [.at(0x63, 10), .at(0x6d, 10)],
        example: .vmcb(gpa: 0x10000, DefaultVmcb12.value),
        parse: SVMText.parseVmcb,
        print: { o in
            guard case .vmcb(let gpa, let v) = o else { return "" }
            return SVMText.vmcbLine(["vmcb", SVMNumber.hex(gpa)], v)
        },
        encode: { o, e in if case .vmcb(let gpa, let v) = o { e.vmcb(gpa, v) } },
        decode: { i, d in
            let gpa = d.value(.vmcbGpa)
            return .vmcb(gpa: gpa, i == 0 ? DefaultVmcb12.value : d.vmcbEdits())
        },
        tweak: { o, rng in
            guard case .vmcb(let gpa, let v) = o else { return o }
            if rng.chance(6) { return .vmcb(gpa: OperationTweak.neighbour(gpa, .vmcbGpa, &rng), v) }
            return .vmcb(gpa: gpa, OperationTweak.vmcbField(v, &rng))
        },
        simplify: { o in
            guard case .vmcb(let gpa, let v) = o else { return [] }
            return Minimizer.towardsDefault(v).map { .vmcb(gpa: gpa, $0) }
        },
        lowerToPlan: { o in
            guard case .vmcb(let gpa, let image) = o else { return "" }
            guard GuestPhys.isMappable(gpa), !KvmPlan.overlapsRunner(gpa) else { return "nop what=unbacked-vmcb" }
            return "mem " + VmcbImage.writes(image, page: gpa & GuestPhys.pageMask).joined(separator: " ")
        })

    static let raceVmcb = OperationDescription(
        name: "race_vmcb", fields: vmcbFields, opcodes: [.at(0x77, 4)],
        example: .racingVmcb(DefaultVmcb12.value),
        parse: { r in .racingVmcb(try SVMText.parseVmcbFields(&r, for: "race_vmcb")) },
        print: { o in
            guard case .racingVmcb(let v) = o else { return "" }
            return SVMText.vmcbLine(["race_vmcb"], v)
        },
        encode: { o, e in if case .racingVmcb(let v) = o { e.racingVmcb(v) } },
        decode: { _, d in .racingVmcb(d.vmcbEdits()) },
        tweak: { o, rng in
            guard case .racingVmcb(let v) = o else { return o }
            return .racingVmcb(OperationTweak.vmcbField(v, &rng))
        },
        simplify: { o in
            guard case .racingVmcb(let v) = o else { return [] }
            return Minimizer.towardsDefault(v).map(Operation.racingVmcb)
        },
        lowerToPlan: { _ in "unsupported what=race_vmcb" })

    static let msrpmOpcode = Opcode.at(0x7b, 8)

    static let msrpm = OperationDescription(
        name: "msrpm", fields: [PatchField(name: "gpa", table: .msrpmGpa)], opcodes: [msrpmOpcode],
        example: .msrpm(gpa: 0x20000, MsrpmImage(reads: 0, writes: 1)),
        parse: SVMText.parseMsrpm,
        print: { o in
            guard case .msrpm(let gpa, let image) = o else { return "" }
            return "msrpm \(SVMNumber.hex(gpa)) write=\(SVMText.msrList(image.writes)) read=\(SVMText.msrList(image.reads))"
        },
        encode: { o, e in
            guard case .msrpm(let gpa, let image) = o else { return }
            e.op(msrpmOpcode)
            e.value(gpa, .msrpmGpa)
            e.bytes += [image.writes, image.reads]
        },
        decode: { _, d in
            let gpa = d.value(.msrpmGpa)
            let writes = d.byte() ?? 0
            return .msrpm(gpa: gpa, MsrpmImage(reads: d.byte() ?? 0, writes: writes))
        },
        tweak: { o, rng in
            guard case .msrpm(let gpa, let image) = o else { return o }
            return OperationTweak.msrpm(gpa, image, &rng)
        },
        simplify: { _ in [] },
        lowerToPlan: { o in
            guard case .msrpm(let gpa, let image) = o else { return "" }
            // Both pages of the map: one reaching into the runner's area would overwrite its tables.
            guard GuestPhys.isMappable(gpa), !KvmPlan.overlapsRunner(gpa),
                  !KvmPlan.overlapsRunner(gpa &+ GuestPhys.pageSize) else { return "nop what=unbacked-msrpm" }
            return "mem " + KvmPlan.msrpmWrites(image, base: gpa & GuestPhys.pageMask).joined(separator: " ")
        })
}
