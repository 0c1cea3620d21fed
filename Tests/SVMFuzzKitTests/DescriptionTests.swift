import XCTest
@testable import SVMFuzzKit
import SVMModel

/// Every operation kind is handled by every component through its description: parse(print(x)) == x,
/// decode(encode(x)) == x, the mutator moves it to another operation (or keeps its kind's shape), the
/// minimizer's smaller forms print and parse, and every opcode byte belongs to exactly one description.
final class DescriptionTests: XCTestCase {
    func testEveryKindHasItsDescription() {
        XCTAssertEqual(Set(OperationDescriptions.all.map(\.name)).count, OperationDescriptions.all.count, "names are unique")
        XCTAssertEqual(OperationDescriptions.byName.count, OperationDescriptions.all.count)
        for d in OperationDescriptions.all {
            XCTAssertEqual(d.example.spec.name, d.name, "Operation.spec maps the example back to its description")
            XCTAssertTrue(SVMText.line(d.example).hasPrefix(d.name), d.name)
            for f in d.fields { XCTAssertFalse(f.table.values.isEmpty, "\(d.name) \(f.name)") }
        }
    }

    func testEveryOpcodeBelongsToOneDescription() {
        for b in 0..<256 where !ByteCodec.enterL2Opcode.bytes.contains(b) {
            XCTAssertEqual(OperationDescriptions.all.filter { $0.opcodes.contains { $0.bytes.contains(b) } }.count, 1, "\(b)")
        }
        XCTAssertFalse(OperationDescriptions.all.contains { $0.opcodes.contains(ByteCodec.enterL2Opcode) })
    }

    /// Adding an operation touches three places and a test: the `Operation` case and its line in
    /// `Operation.spec` (Program.swift); its description (Describe/, listed in `OperationDescriptions.all`),
    /// which also owns its opcode bytes (taken from the end of `reset`'s range) and its real-KVM plan
    /// step; its execution (Executor.swift). Everything else is derived from the description, as checked
    /// here (a description left out of `all` leaves its bytes unowned: the byte table refuses to build).
    func testAddingAnOperationTouchesThreePlaces() {
        XCTAssertEqual(OperationDescriptions.all.flatMap(\.opcodes).reduce(0) { $0 + $1.weight }
                       + ByteCodec.enterL2Opcode.weight, 256, "the descriptions' opcodes cover every byte")
        for d in OperationDescriptions.all {
            let step = KvmPlan.step(d.example)
            XCTAssertFalse(step.isEmpty || step.contains("\n"), d.name)
            XCTAssertEqual(step, d.lowerToPlan(d.example), d.name)
        }
    }

    func testEveryKindRoundTripsThroughTextAndBytes() throws {
        for d in OperationDescriptions.all {
            let p = Program(operations: [d.example])
            let text = SVMText.print(p)
            XCTAssertEqual(try SVMText.parse(text, file: "t.svm"), p, text)
            guard d.name != "expect" else {
                XCTAssertEqual(ByteCodec.encode(p), [], "expect is not encoded")
                continue
            }
            let bytes = ByteCodec.encode(p)
            XCTAssertTrue(d.opcodes.map(\.first).contains(bytes[0]), d.name)
            XCTAssertEqual(ByteCodec.decode(bytes), p, d.name)
        }
    }

    func testEveryKindIsTweakedAndShrunkIntoWellFormedOperations() throws {
        var rng = MutatorRng(fuzzerSeed: 7)
        for d in OperationDescriptions.all {
            var tweaked: [SVMFuzzKit.Operation] = []
            for _ in 0..<64 { tweaked.append(OperationTweak.tweak(d.example, &rng)) }
            if d.name == "expect" {
                XCTAssertEqual(Set(tweaked), [d.example], "expect is never mutated")
            } else {
                XCTAssertTrue(tweaked.contains { $0 != d.example }, "\(d.name) is never tweaked")
            }
            for op in tweaked + Minimizer.simplifications(of: d.example) + tweaked.flatMap(Minimizer.simplifications) {
                let p = Program(operations: [op])
                XCTAssertEqual(try SVMText.parse(SVMText.print(p), file: "t.svm"), p, SVMText.line(op))
                if d.name != "expect" { XCTAssertEqual(ByteCodec.decode(ByteCodec.encode(p)), p, SVMText.line(op)) }
            }
        }
    }

    func testShrinkingKindsHaveSmallerForms() {
        typealias D = OperationDescriptions
        for d in [D.setSregs, D.setRegs, D.setMsrs, D.setVcpuEvents, D.setNestedState, D.restore] {
            XCTAssertFalse(Minimizer.simplifications(of: d.example).isEmpty, d.name)
        }
    }

    /// A description added outside the table (a new name on an existing payload) gets its parser, printer,
    /// codec, mutator, minimizer and plan step from its shape alone.
    func testADummyDescriptionWorksFromItsShapeAlone() throws {
        let dummy = OperationDescription.patch("dummy_regs", RegsPatch.self, opcode: OperationDescriptions.setRegs.opcodes[0],
                                               make: SVMFuzzKit.Operation.setRegs,
                                               get: { if case .setRegs(let p) = $0 { return p } else { return nil } })
        let line = "dummy_regs rip=0x4000 rflags=0x202"
        let tokens = line.split(separator: " ")
        var r = LineReader(file: "t.svm", line: 1, tokens: tokens)
        let op = try dummy.parse(&r)
        XCTAssertEqual(op, .setRegs(RegsPatch(rip: 0x4000, rflags: 0x202)))
        XCTAssertEqual(dummy.print(op), line)
        var e = OperationEncoder()
        dummy.encode(op, &e)
        let decoded = e.bytes.withUnsafeBytes { raw -> SVMFuzzKit.Operation in
            var d = OperationDecoder(body: raw)
            XCTAssertEqual(d.byte(), dummy.opcodes[0].first)
            return dummy.decode(0, &d)
        }
        XCTAssertEqual(decoded, op)
        XCTAssertEqual(dummy.simplify(op).count, 2)
        XCTAssertEqual(dummy.lowerToPlan(op), "dummy_regs rip=0x4000 rflags=0x202")
        var rng = MutatorRng(fuzzerSeed: 3)
        XCTAssertTrue((0..<16).contains { _ in dummy.tweak(op, &rng) != op })
    }
}
