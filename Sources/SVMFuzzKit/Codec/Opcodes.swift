// The opcode bytes of the encoding. Every byte value is an opcode: each description owns one or more
// contiguous ranges (its `opcodes`, written next to its name), whose sizes are their weights (so random
// bytes and byte mutations mostly produce guest instructions and the snapshot/restore/set_sregs ioctls);
// the encoder writes the first byte of a range (the canonical byte). The codec owns enter-L2
// (ByteCodec.enterL2Opcode). The ranges must cover 0x00...0xff exactly once; a new operation takes its
// range from the end of `reset`'s (0xfa...0xff) so that every stored input keeps its meaning.
// Exception: the first byte of the input may be a config magic (ByteCodec.configMagic...), see ByteCodec.

import SVMModel

/// One range of opcode bytes, `first..<first + weight`.
struct Opcode: Hashable {
    /// The canonical byte (the encoder writes it).
    let first: UInt8
    let weight: Int

    static func at(_ first: UInt8, _ weight: Int) -> Opcode { Opcode(first: first, weight: weight) }

    var bytes: Range<Int> { Int(first)..<Int(first) + weight }
}

extension OperationDescriptions {
    /// What a byte decodes as: the description's decoder and which of its opcodes the byte is in
    /// (nil: enter-L2).
    struct ByteEntry {
        let decode: OperationDescription.Decode?
        let index: Int
        let canonical: UInt8
    }

    /// Indexed by byte value.
    static let byByte: [ByteEntry] = {
        var t: [ByteEntry?] = Array(repeating: nil, count: 256)
        func own(_ o: Opcode, _ decode: OperationDescription.Decode?, _ index: Int) {
            for b in o.bytes {
                precondition(b < 256 && t[b] == nil, "opcode byte \(b) owned twice or out of range")
                t[b] = ByteEntry(decode: decode, index: index, canonical: o.first)
            }
        }
        own(ByteCodec.enterL2Opcode, nil, 0)
        for d in all { for (i, o) in d.opcodes.enumerated() { own(o, d.decode, i) } }
        precondition(!t.contains { $0 == nil }, "opcode ranges must cover every byte")
        return t.map { $0! }
    }()

    @inline(__always) static func canonicalByte(_ byte: UInt8) -> UInt8 { byByte[Int(byte)].canonical }
}
