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

    /// The instructions after wrmsr, in selector order from `emulateFirstSelector`.
    static let emulatedKinds: [OperationKind] = [.vmrun, .vmload, .vmsave, .vmmcall, .stgi, .clgi, .rsm]
    static let emulateFirstSelector: UInt8 = 4

    /// The instruction of `emulate`'s selector `s` with its operand (`x`, the GPA of vmrun/vmload/vmsave).
    static func emulated(_ kind: OperationKind, gpa x: UInt64) -> GuestInstruction {
        switch kind {
        case .vmrun: return .vmrun(gpa: x)
        case .vmload: return .vmload(gpa: x)
        case .vmsave: return .vmsave(gpa: x)
        case .vmmcall: return .vmmcall
        case .stgi: return .stgi
        case .clgi: return .clgi
        default: return .rsm
        }
    }

    static let emulate = OperationDescription(
        kind: .emulate, name: "emulate", fields: wrmsr.fields + [gpa], opcodes: [emulateOpcode],
        example: .emulate(.wrmsr(msr: MSR.efer, value: 0xd01)),
        parse: { r in
            // The rest of the line is the instruction, read by its own parser.
            let names = ["wrmsr"] + emulatedKinds.map { describe($0).name }
            guard let name = r.next() else {
                throw r.error("expected an instruction after 'emulate' (\(names.joined(separator: ", ")))")
            }
            guard let kind = ([.wrmsr] + emulatedKinds).first(where: { describe($0).name == name }) else {
                throw r.error("expected one of \(names.joined(separator: ", ")) after 'emulate' (KVM's emulator door), got '\(name)'")
            }
            var sub = LineReader(file: r.file, line: r.line, tokens: Array(r.tokens.dropFirst()))
            guard case .guest(let g) = try describe(kind).parse(&sub) else { throw r.error("expected \(name) after 'emulate'") }
            return .emulate(g)
        },
        print: { o in
            guard case .emulate(let g) = o else { return "" }
            return "emulate " + describe(Operation.guest(g).kind).print(.guest(g))
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
            let i = emulatedKinds.firstIndex(of: Operation.guest(g).kind) ?? emulatedKinds.count - 1
            e.bytes.append(emulateFirstSelector + UInt8(i))
            switch g {
            case .vmrun(let x), .vmload(let x), .vmsave(let x): e.value(x, gpa.table)
            default: break
            }
        },
        decode: { _, d in
            let s = d.byte() ?? 0
            if s >= emulateFirstSelector && Int(s - emulateFirstSelector) < emulatedKinds.count {
                let kind = emulatedKinds[Int(s - emulateFirstSelector)]
                let x = [.vmrun, .vmload, .vmsave].contains(kind) ? d.value(gpa.table) : 0
                return .emulate(emulated(kind, gpa: x))
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
            let t = describe(Operation.guest(g).kind).tweak(.guest(g), &rng)
            guard case .guest(let n) = t, n != .tripleFault else { return t }
            return .emulate(n)
        },
        simplify: { o in
            guard case .emulate(let g) = o else { return [] }
            return [.guest(g)]
        },
        lowerToPlan: { o in
            guard case .emulate(let g) = o else { return "" }
            return describe(Operation.guest(g).kind).lowerToPlan(.guest(g)) + " emulate=1"
        })
}
