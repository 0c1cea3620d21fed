// The common operation shapes: everything about an operation without operands, with one table-valued
// operand, or with a patch of optional fields, from its name, opcode and value table.

import SVMModel

extension OperationDescription {
    /// No operands (`stgi`); the mutator turns it into one of `siblings`.
    static func bare(_ name: String, _ op: Operation, opcode: Opcode, siblings: [Operation]) -> OperationDescription {
        OperationDescription(
            name: name, fields: [], opcodes: [opcode], example: op,
            parse: { r in try r.end(); return op },
            print: { _ in name },
            encode: { _, e in e.op(opcode) },
            decode: { _, _ in op },
            tweak: { o, rng in OperationTweak.other(o, in: siblings, &rng) },
            simplify: { _ in [] },
            lowerToPlan: { _ in name })
    }

    /// One positional number operand from `table` (`vmrun <gpa>`); the mutator moves it, or (one time in
    /// four) turns the operation into one of `siblings` with the same operand.
    static func operand(_ name: String, _ field: PatchField, opcode: Opcode,
                        make: @escaping (UInt64) -> Operation, get: @escaping (Operation) -> UInt64,
                        siblings: [(UInt64) -> Operation]) -> OperationDescription {
        let t = field.table
        return OperationDescription(
            name: name, fields: [field], opcodes: [opcode], example: make(t.values[0]),
            parse: { r in
                let x = try r.operand("a GPA", after: name, field: "the GPA")
                try r.end()
                return make(x)
            },
            print: { o in "\(name) \(SVMNumber.hex(get(o)))" },
            encode: { o, e in e.op(opcode); e.value(get(o), t) },
            decode: { _, d in make(d.value(t)) },
            tweak: { o, rng in
                let x = get(o)
                if rng.chance(4) { return OperationTweak.other(o, in: siblings.map { $0(x) }, &rng) }
                return make(OperationTweak.neighbour(x, t, &rng))
            },
            simplify: { _ in [] },
            lowerToPlan: { o in "\(name) gpa=\(KvmPlan.hex(get(o)))" })
    }

    /// Optional key=value fields (PatchFields); the minimizer leaves one set field out at a time when
    /// `shrinks`; its plan step sets the fields that are set, unless `lowerToPlan` says otherwise.
    static func patch<P: PatchFields>(_ name: String, _: P.Type, opcode: Opcode,
                                      make: @escaping (P) -> Operation, get: @escaping (Operation) -> P?,
                                      shrinks: Bool = true, lowerToPlan: ((P) -> String)? = nil) -> OperationDescription {
        var example = P.empty
        example[field: 0] = P.fields[0].table.values[0]
        return OperationDescription(
            name: name, fields: P.fields, opcodes: [opcode], example: make(example),
            parse: { r in make(try SVMText.parsePatch(&r, P.self)) },
            print: { o in SVMText.patchLine(name, get(o) ?? .empty) },
            encode: { o, e in e.op(opcode); e.patch(get(o) ?? .empty) },
            decode: { _, d in make(d.patch(P.self)) },
            tweak: { o, rng in make(OperationTweak.patch(get(o) ?? .empty, &rng)) },
            simplify: { o in shrinks ? Minimizer.withoutOneField(get(o) ?? .empty).map(make) : [] },
            lowerToPlan: { o in
                let p = get(o) ?? .empty
                if let lowerToPlan { return lowerToPlan(p) }
                return KvmPlan.fields(name, P.fields.indices.map { (P.fields[$0].name, p[field: $0]) })
            })
    }
}
