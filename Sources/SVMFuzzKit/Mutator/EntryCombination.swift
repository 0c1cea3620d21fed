// "Mutations over combinations" (issue 13): several coordinated changes around one entry into L2 in one
// mutation. The slow zoo bugs each need pieces that gain no coverage one by one: a config key, a value
// in one field of the state the entry reads, and an operation right before or right after the entry
// (zoo README: an EVENTINJ value with nrips=0 and a `signal` before the VMRUN; a vmcb12 EFER value and
// a return to userspace after it). The pieces come from the operations' descriptions, not from any
// program: the entries are the instructions that enter L2 (VMRUN, RSM back into a guest); the state
// each reads is the `vmcb` at the VMRUN's address or the `smram` image, whose fields move to a value of
// the field's table (its meaningful values, Codec/ValueTables.swift); the neighbours are the platform
// operations (`OperationDescriptions.platformBare`: SMI, INIT, a signal, KVM_RUN, reset, destroy, the
// moments control passes between the guest, KVM and userspace), a dictionary's operations, or a fresh one.
//
// It works on decoded operations (each re-encoded as its own piece), so it costs a decode of the input
// when chosen (one op-level mutation in six).

import SVMModel

enum EntryCombination {
    /// What a combination changes around its entry (each chosen with probability 3/4, at least two).
    struct Parts: OptionSet {
        let rawValue: UInt8
        static let config = Parts(rawValue: 1)
        static let state = Parts(rawValue: 2)
        static let before = Parts(rawValue: 4)
        static let after = Parts(rawValue: 8)
    }

    /// Two or more of the parts around one entry of the program (a VMRUN is added when it has none).
    static func apply(_ layout: inout EncodedLayout, _ rng: inout MutatorRng, _ dictionary: OperationDictionary) -> Bool {
        var ops: [Operation] = []
        for i in 0..<layout.count { ops += EncodedLayout.operations(layout[i]) }
        var config = layout.config
        let entries = ops.indices.filter { isEntry(ops[$0]) }
        var at: Int
        if let e = entries.isEmpty ? nil : entries[rng.below(entries.count)] {
            at = e
        } else {
            at = rng.below(ops.count + 1)
            ops.insert(.guest(.vmrun(gpa: ValueTable.vmcbGpa.values[0])), at: at)
        }
        let parts = choose(&rng)
        if parts.contains(.config) { OperationMutator.tweakConfig(&config, &rng) }
        if parts.contains(.state) { at += moveState(&ops, entry: at, &rng) }
        if parts.contains(.after) { ops.insert(contentsOf: neighbour(&rng, dictionary), at: at + 1) }
        if parts.contains(.before) { ops.insert(contentsOf: neighbour(&rng, dictionary), at: at) }
        var out = EncodedLayout(config: layout.config)
        if config != layout.config { out.setConfig(config) }
        for op in ops { out.insert(EncodedLayout.encode([op]), at: out.count) }
        layout = out
        return true
    }

    static func isEntry(_ op: Operation) -> Bool {
        switch op {
        case .guest(.vmrun), .emulate(.vmrun), .guest(.rsm): return true
        default: return false
        }
    }

    static func choose(_ rng: inout MutatorRng) -> Parts {
        while true {
            var p: Parts = []
            for part in [Parts.config, .state, .before, .after] where rng.below(4) != 0 { p.insert(part) }
            if p.rawValue.nonzeroBitCount >= 2 { return p }
        }
    }

    /// Moves one field of the state the entry at `entry` reads to a value of its table: the last `vmcb`
    /// at the VMRUN's address before it, or the last `smram` before an RSM; without one, a new one
    /// (DefaultVmcb12, or an SMRAM patch of that one field) goes right before the entry. Returns how
    /// many operations were inserted before the entry (0 or 1).
    static func moveState(_ ops: inout [Operation], entry: Int, _ rng: inout MutatorRng) -> Int {
        switch ops[entry] {
        case .guest(.vmrun(let gpa)), .emulate(.vmrun(let gpa)):
            let last = ops[..<entry].lastIndex { if case .vmcb(gpa, _) = $0 { return true } else { return false } }
            var v = DefaultVmcb12.value
            if let last, case .vmcb(_, let old) = ops[last] { v = old }
            let f = VmcbField.allCases[rng.below(VmcbField.allCases.count)]
            let values = f.table.values
            f.set(&v, f == .interceptToggle ? UInt64(rng.below(InterceptSet.named.count)) : values[rng.below(values.count)])
            if let last { ops[last] = .vmcb(gpa: gpa, v); return 0 }
            ops.insert(.vmcb(gpa: gpa, v), at: entry)
            return 1
        default:
            let last = ops[..<entry].lastIndex { if case .smram = $0 { return true } else { return false } }
            var p = SmramPatch()
            if let last, case .smram(let old) = ops[last] { p = old }
            let i = rng.below(SmramPatch.fields.count)
            let values = SmramPatch.fields[i].table.values
            p[field: i] = values[rng.below(values.count)]
            if let last { ops[last] = .smram(p); return 0 }
            ops.insert(.smram(p), at: entry)
            return 1
        }
    }

    /// An operation next to an entry: half the time a platform operation, else a dictionary's
    /// operations (when there is a dictionary) or a fresh one.
    static func neighbour(_ rng: inout MutatorRng, _ dictionary: OperationDictionary) -> [Operation] {
        if rng.chance(2) { return [OperationDescriptions.platformBare[rng.below(OperationDescriptions.platformBare.count)]] }
        if !dictionary.isEmpty && rng.chance(2) {
            return EncodedLayout.operations(dictionary.entries[rng.below(dictionary.entries.count)])
        }
        return EncodedLayout.operations(OperationMutator.fresh(&rng))
    }
}
