// An operation-level mutator for LLVMFuzzerCustomMutator: it splits the input at its operations' byte
// boundaries (EncodedLayout) and inserts a fresh operation or a dictionary's (OperationDictionary),
// deletes, swaps or duplicates operations, tweaks one field of one operation (OperationTweak), changes
// one config key, or makes several coordinated changes around one entry into L2 (EntryCombination).
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
    public static func mutate(_ data: UnsafeMutablePointer<UInt8>, size: Int, maxSize: Int, seed: UInt32,
                              dictionary: OperationDictionary = .none) -> Int {
        let input = UnsafeRawBufferPointer(start: data, count: max(0, size))
        guard let out = mutate(input, maxSize: maxSize, seed: seed, dictionary: dictionary) else { return -1 }
        out.withUnsafeBufferPointer { if let p = $0.baseAddress { data.update(from: p, count: out.count) } }
        return out.count
    }

    /// The mutated bytes, or nil when no change fits in maxSize.
    public static func mutate(_ input: UnsafeRawBufferPointer, maxSize: Int, seed: UInt32,
                              dictionary: OperationDictionary = .none) -> [UInt8]? {
        var rng = MutatorRng(fuzzerSeed: seed)
        let original = EncodedLayout(input)
        for _ in 0..<8 {
            var layout = original
            guard apply(&layout, &rng, dictionary) else { continue }
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
    static func apply(_ layout: inout EncodedLayout, _ rng: inout MutatorRng, _ dictionary: OperationDictionary = .none) -> Bool {
        let n = layout.count
        // One in six: a combination around an entry into L2 (EntryCombination), from an empty input too.
        let action = n == 0 ? (rng.below(6) == 0 ? 20 : 0) : rng.below(24)
        switch action {
        case 0..<5:     // insert a fresh operation, or half the time a dictionary's
            if !dictionary.isEmpty && rng.chance(2) {
                layout.insert(dictionary.entries[rng.below(dictionary.entries.count)], at: rng.below(n + 1))
            } else {
                layout.insert(fresh(&rng), at: rng.below(n + 1))
            }
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
        case 20..<24:   // several coordinated changes around one entry into L2
            return EntryCombination.apply(&layout, &rng, dictionary)
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

    /// Flips one vCPU or host setting (an absent key is the default): every flip changes what the program
    /// runs on. The variant is not among them: the fuzz target and the commands run the variant they are
    /// given, so a changed `variant=` would be an execution spent on the same program.
    static func tweakConfig(_ c: inout ProgramConfig, _ rng: inout MutatorRng) {
        func flip(_ b: Bool?, _ byDefault: Bool) -> Bool? { (b ?? byDefault) == byDefault ? !byDefault : nil }
        switch rng.below(9) {
        case 0: c.nested = flip(c.nested, true)
        case 1: c.npt = flip(c.npt, true)
        case 2: c.vgif = flip(c.vgif, true)
        case 3: c.svm = flip(c.svm, true)
        case 4: c.lm = flip(c.lm, true)
        case 5: c.nrips = flip(c.nrips, true)
        case 6: c.fep = flip(c.fep, false)
        case 7: c.hostNrips = flip(c.hostNrips, true)
        default: c.hostVls = flip(c.hostVls, true)
        }
    }

    /// Cross-over for LLVMFuzzerCustomCrossOver, one of two shapes: half the time a prefix of data1's
    /// operations followed by a slice of data2's; otherwise a splice, a short slice of data2's operations
    /// (1 to 4) inserted at an operation boundary of data1, whose tail is kept (pieces that only work after
    /// a given state and before a given step combine without both parents having them in place). The
    /// config is data1's, or one time in 4 data2's (the config is a dimension of its own: a program meets
    /// the configs other inputs found useful instead of waiting for a flip of the right key). Returns the
    /// size written to `out` (0 when nothing fits). The bytes are copied in place from the operation
    /// boundaries; only a truncated header or a truncated operation that would be followed by others
    /// takes the slower path that re-encodes it.
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
                let splicing = rng.chance(2)
                let header = rng.chance(4) && b.headerComplete ? (data2, b.bodyStart) : (data1, a.bodyStart)
                if splicing, a.headerComplete, i < a.count, j < b.count {
                    // data2's truncated last operation would swallow data1's tail: never part of a splice.
                    let whole = b.truncatedLast ? b.count - 1 : b.count
                    guard j < whole else { return 0 }
                    var k = j + 1 + rng.below(min(4, whole - j))
                    let fixed = header.1 + size1 - a.bodyStart, startB = b.start(j, e2)
                    while k > j + 1 && fixed + b.start(k, e2) - startB > maxOutSize { k -= 1 }
                    let pieces = Pieces(header: header, a: data1, from: a.bodyStart, cut: a.start(i, e1), tail: size1,
                                        b: data2 + startB, count: b.start(k, e2) - startB)
                    return pieces.total <= maxOutSize ? pieces.write(out) : 0
                }
                var k = j + rng.below(b.count - j + 1)
                guard a.headerComplete, !(i == a.count && a.truncatedLast && k > j) else {
                    return crossOverReencoding(in1, in2, i, j, k, out: out, maxOutSize: maxOutSize)
                }
                let startB = b.start(j, e2)
                var i2 = i
                // Too big: drop trailing operations (data2's slice first).
                func total() -> Int { header.1 + a.start(i2, e1) - a.bodyStart + b.start(k, e2) - startB }
                while k > j && total() > maxOutSize { k -= 1 }
                while i2 > 0 && total() > maxOutSize { i2 -= 1 }
                let cut = a.start(i2, e1)
                let pieces = Pieces(header: header, a: data1, from: a.bodyStart, cut: cut, tail: cut,
                                    b: data2 + startB, count: b.start(k, e2) - startB)
                return pieces.total <= maxOutSize ? pieces.write(out) : 0
            }
        }
    }

    /// A cross-over's output: a header, data1's operations up to `cut`, `count` bytes of data2's
    /// operations, then data1's bytes from `cut` to `tail` (none for a prefix, the rest for a splice).
    struct Pieces {
        let header: (UnsafePointer<UInt8>, Int)
        let a: UnsafePointer<UInt8>
        let from, cut, tail: Int
        let b: UnsafePointer<UInt8>
        let count: Int

        var total: Int { header.1 + cut - from + count + tail - cut }

        func write(_ out: UnsafeMutablePointer<UInt8>) -> Int {
            var o = out
            func copy(_ p: UnsafePointer<UInt8>, _ n: Int) { if n > 0 { o.update(from: p, count: n); o += n } }
            copy(header.0, header.1)
            copy(a + from, cut - from)
            copy(b, count)
            copy(a + cut, tail - cut)
            // Without a header, a first opcode byte that is a config magic becomes its kind's canonical byte.
            if header.1 == 0, total > 0, ByteCodec.isConfigMagic(out[0]) {
                out[0] = OperationDescriptions.canonicalByte(out[0])
            }
            return total
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
