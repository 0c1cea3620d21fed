import XCTest
@testable import SVMFuzzKit
import SVMModel

/// `config fep=1` and `emulate wrmsr ...` (issue 14 §1, the emulator door): language, codec, mutator,
/// minimizer and plan, then the verdicts on the series variants.
final class EmulateDoorTests: XCTestCase {
    private func parse(_ text: String) throws -> Program { try SVMText.parse(text, file: "t.svm") }

    func testTextBytesAndPlan() throws {
        let p = try parse("config fep=1\nemulate wrmsr efer 0xd01\nemulate wrmsr 0xc0000081 0x5\n")
        XCTAssertEqual(p.config, ProgramConfig(fep: true))
        XCTAssertEqual(p.operations, [.emulate(.wrmsr(msr: MSR.efer, value: 0xd01)), .emulate(.wrmsr(msr: MSR.star, value: 5))])
        XCTAssertEqual(SVMText.print(p), "config fep=1\nemulate wrmsr efer 0xd01\nemulate wrmsr star 0x5\n")
        let bytes = ByteCodec.encode(p)
        XCTAssertEqual(Array(bytes[0..<4]), [ByteCodec.configMagicExtended, 0, 0x80, 2], "fep in a second extension byte")
        XCTAssertEqual(bytes[4], OperationDescriptions.emulateOpcode.first)
        XCTAssertEqual(ByteCodec.decode(bytes), p)
        // Every selector byte decodes to an emulated instruction that re-encodes to itself: 4...10 the
        // SVM instructions and RSM, every other one WRMSR (as before they existed).
        for s in 0..<256 {
            let q = ByteCodec.decode([OperationDescriptions.emulateOpcode.first, UInt8(s), 1, 1, 1])
            guard case .emulate(let g) = q.operations.first else { return XCTFail("\(s): \(q.operations)") }
            let want = (4...10).contains(s) ? OperationDescriptions.emulated[s - 4].spec.name : "wrmsr"
            XCTAssertEqual(SVMFuzzKit.Operation.guest(g).spec.name, want, "selector \(s)")
            XCTAssertEqual(ByteCodec.decode(ByteCodec.encode(q)), q)
        }
        // The extension byte keeps its meaning below 0x80 (nrips and the variant).
        XCTAssertEqual(ByteCodec.decode([ByteCodec.configMagicExtended, 0, 1]).config, ProgramConfig(nrips: false))
        XCTAssertEqual(KvmPlan.step(p.operations[0]), "wrmsr msr=0xc0000080 value=0xd01 emulate=1")
        XCTAssertTrue(KvmPlan.lower(p, name: "t.svm").contains("nrips=1 fep=1\n"))
        XCTAssertEqual(Minimizer.simplifications(of: p.operations[0]), [.guest(.wrmsr(msr: MSR.efer, value: 0xd01))])
    }

    /// The other instructions KVM's emulator has: text, bytes and plan round-trip.
    func testSvmInstructionsTextBytesAndPlan() throws {
        let text = "config fep=1\nemulate vmrun 0x10000\nemulate vmload 0x1000000000000\nemulate vmsave 0x12345\n"
            + "emulate vmmcall\nemulate stgi\nemulate clgi\nemulate rsm\n"
        let p = try parse(text)
        XCTAssertEqual(p.operations, [.emulate(.vmrun(gpa: 0x10000)), .emulate(.vmload(gpa: 1 << 48)), .emulate(.vmsave(gpa: 0x12345)),
                                      .emulate(.vmmcall), .emulate(.stgi), .emulate(.clgi), .emulate(.rsm)])
        XCTAssertEqual(SVMText.print(p), text)
        XCTAssertEqual(ByteCodec.decode(ByteCodec.encode(p)), p)
        XCTAssertEqual(KvmPlan.step(p.operations[0]), "vmrun gpa=0x10000 emulate=1")
        XCTAssertEqual(KvmPlan.step(p.operations[6]), "rsm emulate=1")
        XCTAssertEqual(Minimizer.simplifications(of: p.operations[4]), [.guest(.stgi)])
        // The mutator reaches them from the plain instructions, and moves between them behind the prefix.
        var rng = MutatorRng(fuzzerSeed: 7)
        let fromStgi = Set((0..<400).map { _ in OperationTweak.tweak(.guest(.stgi), &rng) })
        XCTAssertTrue(fromStgi.contains(.emulate(.clgi)))
        let fromVmrun = Set((0..<400).map { _ in OperationTweak.tweak(.guest(.vmrun(gpa: 0x10000)), &rng) })
        XCTAssertTrue(fromVmrun.contains(.emulate(.vmload(gpa: 0x10000))))
        let moved = Set((0..<400).map { _ in OperationTweak.tweak(.emulate(.vmrun(gpa: 0x10000)), &rng) })
        XCTAssertTrue(moved.contains(.guest(.vmrun(gpa: 0x10000))))
        XCTAssertTrue(moved.contains { if case .emulate(.vmrun(let x)) = $0 { return x != 0x10000 } else { return false } })
    }

    func testTextErrors() {
        for (text, message) in [("emulate", "expected an instruction after 'emulate' (wrmsr, vmrun, vmload, vmsave, vmmcall, stgi, clgi, rsm)"),
                                ("emulate triple_fault", "expected one of wrmsr, vmrun, vmload, vmsave, vmmcall, stgi, clgi, rsm after 'emulate' (KVM's emulator door), got 'triple_fault'"),
                                ("emulate vmrun", "expected a GPA after 'vmrun'"),
                                ("emulate wrmsr efer", "expected a value after 'wrmsr efer'"),
                                ("config fep=2", "expected 0 or 1 after 'fep=', got '2'")] {
            XCTAssertThrowsError(try parse(text)) { e in
                XCTAssertEqual(e as? ParseError, ParseError(file: "t.svm", line: 1, message: message), text)
            }
        }
    }

    /// The mutator turns a plain WRMSR into an emulated one (and back), and toggles fep in the config.
    func testMutatorReachesTheDoor() {
        var rng = MutatorRng(fuzzerSeed: 5)
        let w = SVMFuzzKit.Operation.guest(.wrmsr(msr: MSR.efer, value: 0xd01))
        let tweaked = (0..<200).map { _ in OperationTweak.tweak(w, &rng) }
        XCTAssertTrue(tweaked.contains { if case .emulate = $0 { return true } else { return false } })
        let back = (0..<200).map { _ in OperationTweak.tweak(.emulate(.wrmsr(msr: MSR.efer, value: 0xd01)), &rng) }
        XCTAssertTrue(back.contains(w))
        var c = ProgramConfig()
        var seen: Set<Bool?> = []
        for _ in 0..<200 { OperationMutator.tweakConfig(&c, &rng); seen.insert(c.fep) }
        XCTAssertEqual(seen, [nil, true], "fep flips between its default (absent) and on")
    }

    /// L2 clears EFER.SVME through the emulator. msr-hook, whose rule lives in msr_interception, lets L1
    /// run on L2's registers like prefix; merged and v2 shut down (svm_set_efer's own rule); v1 keeps
    /// L2 without SVME. Without fep the prefix is a #UD and nothing happens to EFER.
    func testEmulatedSvmeClearOnEverySeriesVariant() throws {
        let body = """
            wrmsr efer 0x1d01
            wrmsr hsave_pa 0x40000
            vmcb 0x10000 intercepts=vmrun,vmmcall
            vmrun 0x10000
            emulate wrmsr efer 0xd01

            """
        let want: [Variant: String?] = [.prefix: "l1-runs-l2-state", .v1IgnoreInGuest: "inconsistent-state:guest-mode-svme",
                                        .v2SetEfer: nil, .msrHook: "l1-runs-l2-state", .merged: nil]
        for variant in Variant.series {
            let r = Runner.run(try parse("config fep=1\n" + body), variant: variant)
            XCTAssertEqual(r.violation?.id.description, want[variant]!, "\(variant): \(String(describing: r.violation))")
            let off = Runner.run(try parse(body + "expect mode=l2 efer=0x1d01\n"), variant: variant)
            XCTAssertTrue(off.isClean, "\(variant) without fep: \(off.expectFailures) \(String(describing: off.violation))")
            XCTAssertEqual(off.lastRecord?.injected, nil)
        }
    }

    /// The prefix's #UD is not the WRMSR: the instruction checks do not judge a WRMSR that never ran
    /// (hsave-pa-rules would want #GP for this address).
    func testPrefixUdIsNotJudgedAsTheInstruction() throws {
        let r = Runner.run(try parse("emulate wrmsr hsave_pa 0x1234\n"), variant: .merged)
        XCTAssertNil(r.violation)
        XCTAssertEqual(r.lastRecord?.injected, Vector.ud)
        let on = Runner.run(try parse("config fep=1\nemulate wrmsr hsave_pa 0x1234\n"), variant: .merged)
        XCTAssertNil(on.violation)
        XCTAssertEqual(on.lastRecord?.injected, Vector.gp)
    }
}
