// The description of `emulate <instruction>`: a guest instruction behind KVM's forced-emulation prefix
// (Emulator.swift in the core), for the instructions KVM's emulator has an entry for: wrmsr, vmrun,
// vmload, vmsave, vmmcall, stgi, clgi and rsm. Operands, text and table values are the instruction's
// own. Bytes: the emulate opcode (0xfd, from the end of reset's range), a selector S, then the
// instruction's payload. S = 4...10 selects vmrun, vmload, vmsave (each followed by a GPA from the vmcb
// GPA table), vmmcall, stgi, clgi, rsm (no payload); every other S is wrmsr in its form S % 4 (the
// encoder writes 0...3) followed by that form's wrmsr payload, as before the others existed.

import SVMModel

extension OperationDescriptions {
    static let emulateOpcode = Opcode.at(0xfd, 1)

    /// The instructions after wrmsr, in selector order from `emulateFirstSelector`, each as its
    /// description and a maker from the GPA operand (ignored by the instructions without one).
    static let emulated: [(spec: OperationDescription, make: (UInt64) -> GuestInstruction)] = [
        (vmrun, { .vmrun(gpa: $0) }), (vmload, { .vmload(gpa: $0) }), (vmsave, { .vmsave(gpa: $0) }),
        (vmmcall, { _ in .vmmcall }), (stgi, { _ in .stgi }), (clgi, { _ in .clgi }), (rsm, { _ in .rsm }),
    ]
    static let emulateFirstSelector: UInt8 = 4

    static let emulate = OperationDescription(
        name: "emulate", fields: wrmsr.fields + [gpa], opcodes: [emulateOpcode],
        example: .emulate(.wrmsr(msr: MSR.efer, value: 0xd01)),
        parse: { r in
            // The rest of the line is the instruction, read by its own parser.
            let specs = [wrmsr] + emulated.map(\.spec)
            let names = specs.map(\.name)
            guard let name = r.next() else {
                throw r.error("expected an instruction after 'emulate' (\(names.joined(separator: ", ")))")
            }
            guard let spec = specs.first(where: { $0.name == name }) else {
                throw r.error("expected one of \(names.joined(separator: ", ")) after 'emulate' (KVM's emulator door), got '\(name)'")
            }
            var sub = LineReader(file: r.file, line: r.line, tokens: Array(r.tokens.dropFirst()))
            guard case .guest(let g) = try spec.parse(&sub) else { throw r.error("expected \(name) after 'emulate'") }
            return .emulate(g)
        },
        print: { o in
            guard case .emulate(let g) = o else { return "" }
            return "emulate " + Operation.guest(g).spec.print(.guest(g))
        },
        encode: { o, e in
            guard case .emulate(let g) = o else { return }
            e.op(emulateOpcode)
            if case .wrmsr(let msr, let v) = g {
                var w = OperationEncoder()
                w.wrmsr(msr, v)
                e.bytes.append(UInt8(wrmsr.opcodes.firstIndex { $0.first == w.bytes[0] } ?? 0))
                e.bytes += w.bytes.dropFirst()
                return
            }
            let name = Operation.guest(g).spec.name
            let i = emulated.firstIndex { $0.spec.name == name } ?? emulated.count - 1
            e.bytes.append(emulateFirstSelector + UInt8(i))
            switch g {
            case .vmrun(let x), .vmload(let x), .vmsave(let x): e.value(x, gpa.table)
            default: break
            }
        },
        decode: { _, d in
            let s = d.byte() ?? 0
            if s >= emulateFirstSelector && Int(s - emulateFirstSelector) < emulated.count {
                let i = Int(s - emulateFirstSelector)
                let x = emulated[i].spec.fields.isEmpty ? 0 : d.value(gpa.table)   // the GPA of vmrun/vmload/vmsave
                return .emulate(emulated[i].make(x))
            }
            let form = Int(s) % wrmsr.opcodes.count
            guard case .guest(let g) = d.wrmsr(form) else { return .emulate(.wrmsr(msr: MSR.efer, value: 0)) }
            return .emulate(g)
        },
        tweak: { o, rng in
            guard case .emulate(let g) = o else { return o }
            // Back to the plain instruction, or one of the instruction's own moves (kept behind the
            // prefix when it stays a guest instruction KVM's emulator has).
            if rng.chance(4) { return .guest(g) }
            let t = Operation.guest(g).spec.tweak(.guest(g), &rng)
            guard case .guest(let n) = t, n != .tripleFault else { return t }
            return .emulate(n)
        },
        simplify: { o in
            guard case .emulate(let g) = o else { return [] }
            return [.guest(g)]
        },
        lowerToPlan: { o in
            guard case .emulate(let g) = o else { return "" }
            return Operation.guest(g).spec.lowerToPlan(.guest(g)) + " emulate=1"
        })
}
