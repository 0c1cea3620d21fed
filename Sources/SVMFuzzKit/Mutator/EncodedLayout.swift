// An input split at its operations' byte boundaries: the config header (re-encoded canonically) and one
// byte string per encoded operation (an enter-L2 is one). Every encoded operation is self-delimiting, so
// the pieces can be reordered freely; the last one, which may be truncated, is re-encoded so that it stays
// self-delimiting when moved.

import SVMModel

struct EncodedLayout {
    var config: ProgramConfig
    var ops: [[UInt8]]

    init(config: ProgramConfig = ProgramConfig(), ops: [[UInt8]] = []) {
        self.config = config
        self.ops = ops
    }

    init(_ bytes: UnsafeRawBufferPointer) {
        var d = OperationDecoder(bytes)
        config = d.config
        ops = []
        var start = d.offset
        while d.skipEncoded() {
            ops.append(Array(bytes[start..<d.offset]))
            start = d.offset
        }
        if let last = ops.last { ops[ops.count - 1] = EncodedLayout.canonical(last) }
    }

    /// The operations one encoded operation decodes to.
    static func operations(_ piece: [UInt8]) -> [Operation] {
        piece.withUnsafeBytes { raw in
            var d = OperationDecoder(body: raw)
            var out: [Operation] = []
            while let op = d.next() { out.append(op) }
            return out
        }
    }

    static func encode(_ ops: [Operation]) -> [UInt8] {
        var w = OperationEncoder()
        w.operations(ops)
        return w.bytes
    }

    static func canonical(_ piece: [UInt8]) -> [UInt8] { encode(operations(piece)) }

    var headerSize: Int {
        var w = OperationEncoder()
        w.config(config)
        return w.bytes.count
    }

    /// The bytes: canonical header, then the operations. Without a header, a first opcode byte that is a
    /// config magic is replaced by its kind's canonical byte.
    var bytes: [UInt8] {
        var w = OperationEncoder()
        w.config(config)
        var out = w.bytes
        let headerless = out.isEmpty
        for op in ops { out += op }
        if headerless, let first = out.first,
           ByteCodec.isConfigMagic(first) {
            out[0] = OperationDescriptions.canonicalByte(first)
        }
        return out
    }
}
