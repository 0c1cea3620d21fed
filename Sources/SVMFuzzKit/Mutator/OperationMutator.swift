// An operation-level mutator for LLVMFuzzerCustomMutator: it splits the input at its operations' byte
// boundaries (EncodedLayout) and inserts a fresh operation, deletes, swaps or duplicates operations,
// tweaks one field of one operation (OperationTweak), or changes one config key.
//
// Contract of `mutate`: it rewrites data[0..<result] with result <= maxSize and returns result, or returns
// -1 without touching data when it cannot make an operation-level change that fits (for example maxSize
// smaller than any change): the caller should then use libFuzzer's byte mutator, e.g.
//     let n = OperationMutator.mutate(data, size: size, maxSize: maxSize, seed: seed)
//     return n >= 0 ? n : LLVMFuzzerMutate(data, size, maxSize)
// It never calls LLVMFuzzerMutate itself; mixing in byte-level mutations (say for one seed in four) is the
// caller's choice. The output always decodes (every byte string does) and, for nearly every seed, decodes
// to a different program than the input.

import SVMModel

public enum OperationMutator {
    public static func mutate(_ data: UnsafeMutablePointer<UInt8>, size: Int, maxSize: Int, seed: UInt32) -> Int {
        let input = UnsafeRawBufferPointer(start: data, count: max(0, size))
        guard let out = mutate(input, maxSize: maxSize, seed: seed) else { return -1 }
        out.withUnsafeBufferPointer { if let p = $0.baseAddress { data.update(from: p, count: out.count) } }
        return out.count
    }

    /// The mutated bytes, or nil when no change fits in maxSize.
    public static func mutate(_ input: UnsafeRawBufferPointer, maxSize: Int, seed: UInt32) -> [UInt8]? {
        var rng = MutatorRng(fuzzerSeed: seed)
        let original = EncodedLayout(input)
        for _ in 0..<8 {
            var layout = original
            guard apply(&layout, &rng) else { continue }
            // Too big: drop trailing operations.
            var total = layout.size
            while total > maxSize, let last = layout.pieces.last {
                total -= last.count
                layout.removeLast()
            }
            guard total <= maxSize else { continue }
            let out = layout.bytes
            if out.count == input.count && out.elementsEqual(input) { continue }
            return out
        }
        return nil
    }

    /// One random mutation; false when it would not change the program.
    static func apply(_ layout: inout EncodedLayout, _ rng: inout MutatorRng) -> Bool {
        let n = layout.count
        let action = n == 0 ? 0 : rng.below(20)
        switch action {
        case 0..<5:     // insert a fresh operation
            let piece = fresh(&rng)
            layout.insert(piece, at: rng.below(n + 1))
        case 5..<8:     // delete one
            layout.remove(at: rng.below(n))
        case 8..<10:    // swap two
            guard n >= 2 else { return false }
            let i = rng.below(n), j = rng.below(n)
            guard layout[i] != layout[j] else { return false }
            layout.swapAt(i, j)
        case 10..<12:   // duplicate one
            layout.duplicate(rng.below(n), at: rng.below(n + 1))
        case 12..<19:   // tweak one field of one operation
            let i = rng.below(n)
            var ops = EncodedLayout.operations(layout[i])
            guard !ops.isEmpty else { return false }
            let k = rng.below(ops.count)
            let tweaked = OperationTweak.tweak(ops[k], &rng)
            guard tweaked != ops[k] else { return false }
            ops[k] = tweaked
            layout.replace(i, with: EncodedLayout.encode(ops))
        default:        // change one config key
            var c = layout.config
            tweakConfig(&c, &rng)
            guard c != layout.config else { return false }
            layout.setConfig(c)
        }
        return true
    }

    /// A fresh operation: a random opcode byte (so weighted like the opcode table) and mostly small value
    /// bytes (table entries near the front, few patch fields, no continuation of vmcb edits).
    static func fresh(_ rng: inout MutatorRng) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: 32)
        buf[0] = rng.byte()
        for i in 1..<buf.count {
            switch rng.below(20) {
            case 0: buf[i] = rng.byte()
            case 1..<6: buf[i] = UInt8(rng.below(Int(ValueEscape.firstEscape)))
            default: buf[i] = UInt8(rng.below(8))
            }
        }
        return buf.withUnsafeBytes { raw in
            var d = OperationDecoder(body: raw)
            _ = d.skipEncoded()
            return EncodedLayout.canonical(Array(buf[0..<d.offset]))
        }
    }

    static func tweakConfig(_ c: inout ProgramConfig, _ rng: inout MutatorRng) {
        func cycle(_ b: Bool?) -> Bool? { b == nil ? false : b == false ? true : nil }
        switch rng.below(10) {
        case 0: c.nested = cycle(c.nested)
        case 1: c.npt = cycle(c.npt)
        case 2: c.vgif = cycle(c.vgif)
        case 3: c.svm = cycle(c.svm)
        case 4: c.lm = cycle(c.lm)
        case 5: c.nrips = cycle(c.nrips)
        case 6: c.fep = cycle(c.fep)
        case 7: c.hostNrips = cycle(c.hostNrips)
        case 8: c.hostVls = cycle(c.hostVls)
        default:
            let all = Variant.allCases
            c.variant = c.variant == nil ? all[rng.below(all.count)] : nil
        }
    }

    /// Cross-over for LLVMFuzzerCustomCrossOver: a prefix of data1's operations followed by a slice of
    /// data2's, with data1's config; returns the size written to `out` (0 when nothing fits). The bytes are
    /// copied in place from the operation boundaries; only a truncated header or a truncated operation that
    /// would be followed by others takes the slower path that re-encodes it.
    public static func crossOver(_ data1: UnsafePointer<UInt8>, size1: Int, _ data2: UnsafePointer<UInt8>, size2: Int,
                                 out: UnsafeMutablePointer<UInt8>, maxOutSize: Int, seed: UInt32) -> Int {
        var rng = MutatorRng(fuzzerSeed: seed)
        let in1 = UnsafeRawBufferPointer(start: data1, count: max(0, size1))
        let in2 = UnsafeRawBufferPointer(start: data2, count: max(0, size2))
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: in1.count + 1) { e1 in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: in2.count + 1) { e2 in
                let a = EncodedBounds(in1, ends: e1), b = EncodedBounds(in2, ends: e2)
                let i = rng.below(a.count + 1)
                let j = rng.below(b.count + 1)
                var k = j + rng.below(b.count - j + 1)
                guard a.headerComplete, !(i == a.count && a.truncatedLast && k > j) else {
                    return crossOverReencoding(in1, in2, i, j, k, out: out, maxOutSize: maxOutSize)
                }
                var endA = a.start(i, e1)
                let startB = b.start(j, e2)
                var i2 = i
                // Too big: drop trailing operations (data2's slice first).
                while k > j && endA + b.start(k, e2) - startB > maxOutSize { k -= 1 }
                let endB = b.start(k, e2)
                while i2 > 0 && endA + endB - startB > maxOutSize { i2 -= 1; endA = a.start(i2, e1) }
                let total = endA + endB - startB
                guard total <= maxOutSize else { return 0 }
                if endA > 0 { out.update(from: data1, count: endA) }
                if endB > startB { (out + endA).update(from: data2 + startB, count: endB - startB) }
                if a.bodyStart == 0, total > 0, ByteCodec.isConfigMagic(out[0]) {
                    out[0] = OperationDescriptions.canonicalByte(out[0])
                }
                return total
            }
        }
    }

    /// The cross-over through EncodedLayout, which re-encodes truncated pieces.
    static func crossOverReencoding(_ in1: UnsafeRawBufferPointer, _ in2: UnsafeRawBufferPointer, _ i: Int, _ j: Int, _ k: Int,
                                    out: UnsafeMutablePointer<UInt8>, maxOutSize: Int) -> Int {
        let a = EncodedLayout(in1), b = EncodedLayout(in2)
        var layout = EncodedLayout(config: a.config)
        for n in 0..<min(i, a.count) { layout.insert(a[n], at: layout.count) }
        for n in j..<min(k, b.count) { layout.insert(b[n], at: layout.count) }
        var total = layout.size
        while total > maxOutSize, let last = layout.pieces.last {
            total -= last.count
            layout.removeLast()
        }
        guard total <= maxOutSize else { return 0 }
        let bytes = layout.bytes
        bytes.withUnsafeBufferPointer { if let p = $0.baseAddress { out.update(from: p, count: bytes.count) } }
        return bytes.count
    }
}
