// One description per operation kind (in the spirit of syzkaller's descriptions): its .svm name, its
// operands and fields with their value tables, the opcodes of the byte encoding it owns, and how it is
// parsed, printed, encoded, decoded, tweaked by the mutator and shrunk by the minimizer. The language,
// the codec, the mutator and the minimizer look the description up (`Operation.spec`) instead of
// switching on Operation; only the executor switches on Operation itself.

import SVMModel

struct OperationDescription {
    /// Gets which of `opcodes` the byte was in.
    typealias Decode = (Int, inout OperationDecoder) -> Operation

    /// The name in the .svm language.
    let name: String
    /// Operands and key=value fields, in .svm order, with the value table each is encoded and mutated with.
    let fields: [PatchField]
    /// The opcode byte ranges (Opcodes.swift) the decoder reads this kind from; none for `expect`.
    let opcodes: [Opcode]
    /// A typical instance, for tests that go through every kind.
    let example: Operation
    /// Reads the operands after the name (the reader stands after it) and rejects leftovers.
    let parse: (inout LineReader) throws -> Operation
    /// The canonical .svm line.
    let print: (Operation) -> String
    /// Writes the opcode and payload.
    let encode: (Operation, inout OperationEncoder) -> Void
    /// Reads the payload of one of `opcodes` (the opcode byte is consumed).
    let decode: Decode
    /// One field moved (OperationTweak).
    let tweak: (Operation, inout MutatorRng) -> Operation
    /// Smaller forms, tried by the minimizer in order.
    let simplify: (Operation) -> [Operation]
    /// The real-KVM plan step (KvmPlan, without the `step N LINE` prefix).
    let lowerToPlan: (Operation) -> String
}

/// The descriptions (Descriptions.swift lists them all, `all`).
enum OperationDescriptions {
    static let byName: [String: OperationDescription] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
}
