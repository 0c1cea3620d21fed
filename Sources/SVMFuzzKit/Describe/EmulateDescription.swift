// The description of `emulate <instruction>`: a guest instruction behind KVM's forced-emulation prefix
// (Emulator.swift in the core). Only `emulate wrmsr <msr> <value>` is modeled; its operands, text,
// table values and tweaks are wrmsr's. Bytes: the emulate opcode (0xfd, from the end of reset's
// range), a selector S (S % 4: which of wrmsr's four forms), then that form's wrmsr payload.

import SVMModel

extension OperationDescriptions {
    static let emulateOpcode = Opcode.at(0xfd, 1)

    static let emulate = OperationDescription(
        name: "emulate", fields: wrmsr.fields, opcodes: [emulateOpcode],
        example: .emulate(.wrmsr(msr: MSR.efer, value: 0xd01)),
        parse: { r in
            // The rest of the line is the instruction, read by its own parser.
            guard let name = r.next() else { throw r.error("expected an instruction after 'emulate' (wrmsr)") }
            guard name == "wrmsr" else {
                throw r.error("expected wrmsr after 'emulate' (the emulator door is modeled for WRMSR), got '\(name)'")
            }
            var sub = LineReader(file: r.file, line: r.line, tokens: Array(r.tokens.dropFirst()))
            guard case .guest(let g) = try SVMText.parseWrmsr(&sub) else { throw r.error("expected wrmsr after 'emulate'") }
            return .emulate(g)
        },
        print: { o in
            guard case .emulate(let g) = o else { return "" }
            return "emulate " + wrmsr.print(.guest(g))
        },
        encode: { o, e in
            guard case .emulate(.wrmsr(let msr, let v)) = o else { return }
            var w = OperationEncoder()
            w.wrmsr(msr, v)
            e.op(emulateOpcode)
            e.bytes.append(UInt8(wrmsr.opcodes.firstIndex { $0.first == w.bytes[0] } ?? 0))
            e.bytes += w.bytes.dropFirst()
        },
        decode: { _, d in
            let form = Int(d.byte() ?? 0) % wrmsr.opcodes.count
            guard case .guest(let g) = d.wrmsr(form) else { return .emulate(.wrmsr(msr: MSR.efer, value: 0)) }
            return .emulate(g)
        },
        tweak: { o, rng in
            guard case .emulate(let g) = o else { return o }
            // Back to the plain instruction, or one of wrmsr's own moves.
            if rng.chance(4) { return .guest(g) }
            guard case .guest(let t) = wrmsr.tweak(.guest(g), &rng) else { return o }
            return .emulate(t)
        },
        simplify: { o in
            guard case .emulate(let g) = o else { return [] }
            return [.guest(g)]
        },
        lowerToPlan: { o in
            guard case .emulate(let g) = o else { return "" }
            return wrmsr.lowerToPlan(.guest(g)) + " emulate=1"
        })
}
