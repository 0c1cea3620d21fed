// An input split at its operations' byte boundaries: the config header and the byte range of each encoded
// operation (an enter-L2 is one). Every complete encoded operation is self-delimiting, so the pieces can be
// reordered freely; a truncated last one (it read defaults past the end) is re-encoded so that it stays
// self-delimiting when moved. The pieces are ranges into one byte store (new pieces are appended to it),
// so splitting an input costs one decode pass and two arrays, not an array per operation: the mutator and
// the cross-over run once per execution and are counted in its cost (issue 13).

import SVMModel

struct EncodedLayout {
    var config: ProgramConfig
    /// The input's header bytes, kept as they were while `config` is unchanged (nil: encode `config`).
    private var rawHeader: ArraySlice<UInt8>?
    private var store: [UInt8]
    private(set) var pieces: [Range<Int>]

    init(config: ProgramConfig = ProgramConfig()) {
        self.config = config
        rawHeader = nil
        store = []
        pieces = []
    }

    init(_ bytes: UnsafeRawBufferPointer) {
        store = Array(bytes)
        var d = OperationDecoder(bytes)
        config = d.config
        rawHeader = d.ranOut ? nil : store[0..<d.bodyStart]
        pieces = []
        var start = d.offset
        var truncated = false
        while d.skipEncoded() {
            pieces.append(start..<d.offset)
            truncated = d.ranOut
            start = d.offset
        }
        if truncated, let last = pieces.last { replace(pieces.count - 1, with: EncodedLayout.canonical(store[last])) }
    }

    var count: Int { pieces.count }
    subscript(i: Int) -> ArraySlice<UInt8> { store[pieces[i]] }

    mutating func insert<C: Collection>(_ bytes: C, at i: Int) where C.Element == UInt8 {
        let start = store.count
        store.append(contentsOf: bytes)
        pieces.insert(start..<store.count, at: i)
    }

    /// Inserts a copy of piece `j` at `i` (the bytes are shared, not copied).
    mutating func duplicate(_ j: Int, at i: Int) { pieces.insert(pieces[j], at: i) }
    mutating func remove(at i: Int) { pieces.remove(at: i) }
    mutating func swapAt(_ i: Int, _ j: Int) { pieces.swapAt(i, j) }
    mutating func removeLast() { pieces.removeLast() }

    mutating func replace<C: Collection>(_ i: Int, with bytes: C) where C.Element == UInt8 {
        let start = store.count
        store.append(contentsOf: bytes)
        pieces[i] = start..<store.count
    }

    mutating func setConfig(_ c: ProgramConfig) {
        config = c
        rawHeader = nil
    }

    /// The operations one encoded operation decodes to.
    static func operations<C: Collection>(_ piece: C) -> [Operation] where C.Element == UInt8 {
        Array(piece).withUnsafeBytes { raw in
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

    static func canonical<C: Collection>(_ piece: C) -> [UInt8] where C.Element == UInt8 { encode(operations(piece)) }

    private var header: [UInt8] {
        if let rawHeader { return Array(rawHeader) }
        var w = OperationEncoder()
        w.config(config)
        return w.bytes
    }

    var headerSize: Int { rawHeader?.count ?? header.count }
    var size: Int { pieces.reduce(headerSize) { $0 + $1.count } }

    /// The bytes: the header, then the operations. Without a header, a first opcode byte that is a config
    /// magic is replaced by its kind's canonical byte.
    var bytes: [UInt8] {
        var out = header
        let headerless = out.isEmpty
        out.reserveCapacity(size)
        for p in pieces { out += store[p] }
        if headerless, let first = out.first, ByteCodec.isConfigMagic(first) {
            out[0] = OperationDescriptions.canonicalByte(first)
        }
        return out
    }
}

/// An input's operation boundaries, found in place (the cross-over's fast path: no copy of the input).
struct EncodedBounds {
    var bodyStart = 0
    var count = 0
    /// The header is complete (a truncated one would swallow what follows it).
    var headerComplete = true
    /// The last operation read defaults past the end of the input.
    var truncatedLast = false

    /// Scans `bytes`, writing the end offset of operation n to `ends[n]` (capacity: bytes.count + 1).
    init(_ bytes: UnsafeRawBufferPointer, ends: UnsafeMutableBufferPointer<Int>) {
        var d = OperationDecoder(bytes)
        bodyStart = d.bodyStart
        headerComplete = !d.ranOut
        while count < ends.count, d.skipEncoded() {
            ends[count] = d.offset
            truncatedLast = d.ranOut
            count += 1
        }
    }

    func start(_ n: Int, _ ends: UnsafeMutableBufferPointer<Int>) -> Int { n == 0 ? bodyStart : ends[n - 1] }
}
