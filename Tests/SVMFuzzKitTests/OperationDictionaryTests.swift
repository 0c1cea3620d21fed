import XCTest
@testable import SVMFuzzKit
import SVMModel

/// The whole operations the mutator takes from a libFuzzer dictionary, and their insertion.
final class OperationDictionaryTests: XCTestCase {
    private func projectDictionary() throws -> OperationDictionary {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("corpus/svm.dict")
        return try OperationDictionary.parse(try String(contentsOf: url, encoding: .utf8), file: "svm.dict")
    }

    func testKeepsWholeOperationsOnly() throws {
        let text = """
            # a comment
            vmrun="\\x26\\x00"
            "\\xa2\\x26\\x00"
            cut="\\x63"
            quoted="a\\"b\\\\"
            """
        let d = try OperationDictionary.parse(text, file: "t.dict")
        // vmrun 0x10000; signal + vmrun; a lone vmcb opcode reads its gpa past the end (not whole); the
        // escapes decode to 'a', '"', 'b', '\' (four one-byte operations).
        XCTAssertEqual(d.entries, [[0x26, 0x00], [0xa2, 0x26, 0x00], [0x61, 0x22, 0x62, 0x5c]])
    }

    func testMalformedLineNamesFileAndLine() {
        XCTAssertThrowsError(try OperationDictionary.parse("ok=\"\\x26\\x00\"\nbad=\\x26", file: "t.dict")) { e in
            XCTAssertEqual("\(e)", "t.dict:2: not a dictionary entry: bad=\\x26")
        }
        XCTAssertThrowsError(try OperationDictionary.parse("x=\"\\x2\"", file: "t.dict"))
    }

    func testProjectDictionaryHasTheEncodedOperations() throws {
        let d = try projectDictionary()
        let operations = ["enter_l2", "vmrun", "vmcb_default", "signal_vmrun", "smi_rsm", "snapshot_a", "restore_a_qemu"]
        for (name, bytes) in DictionaryEntries.expected where operations.contains(name) {
            XCTAssertTrue(d.entries.contains(bytes), "\(name) is a whole operation")
        }
        for e in d.entries { XCTAssertTrue(OperationDictionary.isWholeOperations(e)) }
    }

    /// Insertions take dictionary entries at operation boundaries: the program gains the entry's
    /// operations in one piece, the others unchanged around it.
    func testMutatorInsertsDictionaryOperationsWhole() throws {
        let d = try projectDictionary()
        let base = Program(operations: [.guest(.stgi), .run, .guest(.vmmcall)])
        let bytes = ByteCodec.encode(base)
        let dictOps = Set(d.entries.map { ByteCodec.decode($0).operations })
        var inserted = 0
        for seed in UInt32(0)..<3000 {
            guard let out = bytes.withUnsafeBytes({ OperationMutator.mutate($0, maxSize: 256, seed: seed, dictionary: d) })
            else { continue }
            let ops = ByteCodec.decode(out).operations
            guard ops.count > base.operations.count else { continue }
            for p in 0...base.operations.count {
                let n = ops.count - base.operations.count
                if Array(ops[..<p]) == Array(base.operations[..<p]), Array(ops[(p + n)...]) == Array(base.operations[p...]),
                   dictOps.contains(Array(ops[p..<(p + n)])) {
                    inserted += 1
                    break
                }
            }
        }
        XCTAssertGreaterThan(inserted, 100, "dictionary insertions among 3000 mutations")
    }
}
