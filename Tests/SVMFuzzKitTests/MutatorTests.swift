import XCTest
@testable import SVMFuzzKit
import SVMModel

/// The operation-level mutator: output always decodes, stays within maxSize, and changes the program.
final class MutatorTests: XCTestCase {
    private func input(_ rng: inout CodecRng, _ i: Int) -> [UInt8] {
        i % 2 == 0 ? ByteCodec.encode(RandomPrograms.program(&rng, withExpect: false))
                   : RandomPrograms.bytes(&rng, count: rng.below(64))
    }

    func testOutputFitsDecodesAndChangesTheProgram() {
        var rng = CodecRng(seed: 21)
        var changed = 0, total = 0, fellBack = 0, fellBackWithRoom = 0
        for i in 0..<3000 {
            let bytes = input(&rng, i)
            let maxSize = bytes.count + rng.below(3) * 32
            var buf = bytes + [UInt8](repeating: 0xaa, count: maxSize - bytes.count + 1)
            let n = buf.withUnsafeMutableBufferPointer {
                OperationMutator.mutate($0.baseAddress!, size: bytes.count, maxSize: maxSize, seed: UInt32(i))
            }
            total += 1
            if n < 0 {
                fellBack += 1
                if maxSize >= 16 { fellBackWithRoom += 1 }
                XCTAssertEqual(Array(buf[..<bytes.count]), bytes, "a fallback leaves the data untouched")
                continue
            }
            XCTAssertLessThanOrEqual(n, maxSize)
            XCTAssertEqual(buf[maxSize], 0xaa, "wrote past maxSize")
            let out = Array(buf[..<n])
            if ByteCodec.decode(out) != ByteCodec.decode(bytes) { changed += 1 }
        }
        XCTAssertGreaterThan(changed, total * 9 / 10, "changed \(changed) of \(total), \(fellBack) fallbacks")
        XCTAssertLessThan(fellBackWithRoom, total / 200, "falls back only when there is no room (e.g. empty input, maxSize 0)")
    }

    func testEveryMutationKindHappens() {
        var rng = CodecRng(seed: 22)
        var grew = 0, shrank = 0, sameCount = 0, configChanged = 0
        for i in 0..<2000 {
            let p = RandomPrograms.program(&rng, withExpect: false)
            let bytes = ByteCodec.encode(p)
            guard let out = bytes.withUnsafeBytes({ OperationMutator.mutate($0, maxSize: 4096, seed: UInt32(i)) })
            else { continue }
            let q = ByteCodec.decode(out)
            if q.config != p.config { configChanged += 1 }
            if q.operations.count > p.operations.count { grew += 1 }
            else if q.operations.count < p.operations.count { shrank += 1 }
            else if q.operations != p.operations { sameCount += 1 }
        }
        XCTAssertGreaterThan(grew, 200)
        XCTAssertGreaterThan(shrank, 100)
        XCTAssertGreaterThan(sameCount, 300)    // swaps and tweaks
        XCTAssertGreaterThan(configChanged, 20)
    }

    func testTweaksOfTheDefaultVmcbChangeOneField() {
        let p = Program(operations: [.vmcb(gpa: 0x10000, DefaultVmcb12.value)])
        let bytes = ByteCodec.encode(p)
        var oneField = 0
        for seed in UInt32(0)..<2000 {
            guard let out = bytes.withUnsafeBytes({ OperationMutator.mutate($0, maxSize: 64, seed: seed) }),
                  case .vmcb(let gpa, let v)? = ByteCodec.decode(out).operations.first,
                  ByteCodec.decode(out).operations.count == 1 else { continue }
            let diffs = VmcbField.allCases.filter { $0 != .interceptToggle && $0.get(v) != $0.get(DefaultVmcb12.value) }
            XCTAssertLessThanOrEqual(diffs.count, gpa == 0x10000 ? 1 : 0, "a tweak changes one field")
            if diffs.count == 1 { oneField += 1 }
        }
        XCTAssertGreaterThan(oneField, 200)
    }

    func testTinyMaxSizeFallsBackOrFits() {
        var rng = CodecRng(seed: 23)
        for i in 0..<500 {
            let bytes = input(&rng, i)
            let maxSize = min(bytes.count, rng.below(4))
            let b = Array(bytes.prefix(maxSize))
            var buf = b + [0xaa]
            let n = buf.withUnsafeMutableBufferPointer {
                OperationMutator.mutate($0.baseAddress!, size: b.count, maxSize: maxSize, seed: UInt32(i))
            }
            XCTAssertTrue(n == -1 || (0...maxSize).contains(n))
            XCTAssertEqual(buf[maxSize], 0xaa)
        }
    }

    func testMutationIsDeterministicInTheSeed() {
        let bytes = ByteCodec.encode(Program(operations: ByteCodec.enterL2(vmcb: 0x10000) + [.snapshot(.a), .reset]))
        for seed in UInt32(0)..<100 {
            let a = bytes.withUnsafeBytes { OperationMutator.mutate($0, maxSize: 256, seed: seed) }
            let b = bytes.withUnsafeBytes { OperationMutator.mutate($0, maxSize: 256, seed: seed) }
            XCTAssertEqual(a, b)
        }
    }

    /// A header cut short anywhere (host byte, config byte, extension byte, or the second extension byte
    /// an extension byte with bit 7 announces) sets ranOut, so cross-over re-encodes it instead of letting
    /// data2's first opcode byte complete it; a whole header does not.
    func testTruncatedHeadersAreNotCopiedInPlace() {
        let full: [UInt8] = [ByteCodec.configMagicExtended, 243 + 2, 0, 0x80 | 1, 2]
        XCTAssertEqual(ByteCodec.decode(full).config, ProgramConfig(nrips: false, fep: true, hostNrips: true))
        let b = ByteCodec.encode(Program(operations: [.guest(.stgi), .run, .guest(.vmmcall)]))
        for a in (1...full.count).map({ Array(full[..<$0]) }) + [[ByteCodec.configMagicExtended, 0, 0x80]] {
            let complete = a.count == full.count
            a.withUnsafeBytes { XCTAssertEqual(OperationDecoder($0).ranOut, !complete, "\(a)") }
            for seed in UInt32(0)..<50 {
                var out = [UInt8](repeating: 0, count: 64)
                let n = a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        out.withUnsafeMutableBufferPointer { po in
                            OperationMutator.crossOver(pa.baseAddress!, size1: a.count, pb.baseAddress!, size2: b.count,
                                                       out: po.baseAddress!, maxOutSize: 64, seed: seed)
                        }
                    }
                }
                // data1's config, or one time in 4 data2's (none): never data1's completed by data2's bytes.
                let config = ByteCodec.decode(Array(out[..<n])).config
                XCTAssertTrue([ByteCodec.decode(a).config, ProgramConfig()].contains(config), "\(a) seed \(seed): \(config)")
            }
        }
    }

    func testCrossOverFitsAndKeepsOperations() {
        var rng = CodecRng(seed: 24)
        for i in 0..<500 {
            let a = input(&rng, i), b = input(&rng, i + 1)
            let maxOut = rng.below(80)
            var out = [UInt8](repeating: 0xaa, count: maxOut + 1)
            let n = a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    out.withUnsafeMutableBufferPointer { po in
                        OperationMutator.crossOver(pa.baseAddress ?? UnsafePointer(bitPattern: 1)!, size1: a.count,
                                                   pb.baseAddress ?? UnsafePointer(bitPattern: 1)!, size2: b.count,
                                                   out: po.baseAddress!, maxOutSize: maxOut, seed: UInt32(i))
                    }
                }
            }
            XCTAssertTrue((0...maxOut).contains(n))
            XCTAssertEqual(out[maxOut], 0xaa)
            let q = ByteCodec.decode(Array(out[..<n]))
            let opsA = ByteCodec.decode(a).operations, opsB = ByteCodec.decode(b).operations
            // The result is data1's or data2's config, and a prefix of data1's operations then a run of
            // data2's, or data1's operations with a run of data2's inserted.
            if n > 0 { XCTAssertTrue([ByteCodec.decode(a).config, ByteCodec.decode(b).config].contains(q.config)) }
            let r = q.operations
            func isRunOfB(_ run: ArraySlice<SVMFuzzKit.Operation>) -> Bool {
                run.isEmpty || (run.count <= opsB.count && (0...(opsB.count - run.count)).contains { opsB[$0..<($0 + run.count)] == run })
            }
            let splits = (0...min(r.count, opsA.count)).filter { p in
                guard Array(r[..<p]) == Array(opsA[..<p]) else { return false }
                if isRunOfB(r[p...]) { return true }
                let tail = opsA.count - p
                guard r.count - p > tail else { return false }
                return Array(r[(r.count - tail)...]) == Array(opsA[p...]) && isRunOfB(r[p..<(r.count - tail)])
            }
            XCTAssertFalse(splits.isEmpty, "seed \(i): \(r) is not a prefix of \(opsA) and a slice of \(opsB)")
        }
    }
}
