import Foundation
import XCTest
@testable import SVMFuzzKit
import SVMModel

/// The byte codec: total decoding, decode(encode(p)) == p, the opcode and value tables, the dictionary.
final class CodecTests: XCTestCase {
    func testDecodeEncodeRoundTripsRandomPrograms() {
        var rng = CodecRng(seed: 1)
        for i in 0..<3000 {
            let p = RandomPrograms.program(&rng, withExpect: false)
            let bytes = ByteCodec.encode(p)
            let q = ByteCodec.decode(bytes)
            if q != p {
                XCTFail("program \(i) did not round-trip:\n\(SVMText.print(p))\ngot\n\(SVMText.print(q))")
                return
            }
        }
    }

    func testEncodeSkipsExpect() {
        var rng = CodecRng(seed: 2)
        for _ in 0..<500 {
            let p = RandomPrograms.program(&rng, withExpect: true)
            let withoutExpect = p.operations.filter { if case .expect = $0 { return false } else { return true } }
            XCTAssertEqual(ByteCodec.decode(ByteCodec.encode(p)), Program(config: p.config, operations: withoutExpect))
        }
    }

    func testRandomBytesDecodeAndReencodeToTheSameProgram() {
        var rng = CodecRng(seed: 3)
        for i in 0..<5000 {
            let bytes = RandomPrograms.bytes(&rng, count: rng.below(i < 2500 ? 24 : 200))
            let p = ByteCodec.decode(bytes)
            XCTAssertFalse(p.operations.contains { if case .expect = $0 { return true } else { return false } })
            let again = ByteCodec.decode(ByteCodec.encode(p))
            if again != p {
                XCTFail("bytes \(bytes) decode to\n\(SVMText.print(p))\nbut re-encode to\n\(SVMText.print(again))")
                return
            }
        }
    }

    func testStreamingDecoderMatchesArrayDecode() {
        var rng = CodecRng(seed: 4)
        for _ in 0..<500 {
            let bytes = RandomPrograms.bytes(&rng, count: rng.below(100))
            var ops: [SVMFuzzKit.Operation] = []
            let cfg: ProgramConfig = bytes.withUnsafeBytes { raw in
                var d = OperationDecoder(raw)
                while let op = d.next() { ops.append(op) }
                XCTAssertEqual(d.offset, bytes.count)
                return d.config
            }
            XCTAssertEqual(Program(config: cfg, operations: ops), ByteCodec.decode(bytes))
        }
    }

    func testOpcodeTable() {
        let owned = OperationDescriptions.all.flatMap { d in d.opcodes.enumerated().map { (d.name, $0, $1) } }
            + [("enter_l2", 0, ByteCodec.enterL2Opcode)]
        XCTAssertEqual(owned.reduce(0) { $0 + $1.2.weight }, 256)
        // The byte values every stored input was written with: they keep their meaning.
        XCTAssertEqual(owned.sorted { $0.2.first < $1.2.first }.map { "\(SVMNumber.hex(UInt64($0.2.first))) \($0.0) \($0.1)" },
                       ["0 wrmsr 0", "0x12 wrmsr 1", "0x1a wrmsr 2", "0x20 wrmsr 3", "0x26 vmrun 0", "0x38 vmmcall 0",
                        "0x40 stgi 0", "0x48 clgi 0", "0x50 vmload 0", "0x55 vmsave 0", "0x5a triple_fault 0", "0x5e rsm 0",
                        "0x63 vmcb 0", "0x6d vmcb 1", "0x77 race_vmcb 0", "0x7b msrpm 0", "0x83 smram 0", "0x89 enter_l2 0",
                        "0x97 smi 0", "0x9d init 0", "0xa2 signal 0", "0xa5 run 0", "0xa9 set_sregs 0", "0xba set_regs 0",
                        "0xc0 set_msrs 0", "0xca set_nested_state 0", "0xd4 set_vcpu_events 0", "0xdc snapshot 0",
                        "0xea restore 0", "0xfa reset 0", "0xfc destroy 0", "0xfd emulate 0", "0xfe run 1"])
        for (name, _, o) in owned {
            for b in o.bytes { XCTAssertEqual(OperationDescriptions.canonicalByte(UInt8(b)), o.first, name) }
            XCTAssertNotEqual(o.first, ByteCodec.configMagic, name)
            XCTAssertNotEqual(o.first, ByteCodec.configMagicWithVariant, name)
            XCTAssertNotEqual(o.first, ByteCodec.configMagicExtended, name)
        }
        // Guest instructions and the snapshot/restore/set_sregs ioctls are the common opcodes.
        typealias D = OperationDescriptions
        let guest = [D.wrmsr, D.vmrun, D.vmmcall, D.stgi, D.clgi, D.vmload, D.vmsave, D.tripleFault, D.rsm]
        XCTAssertGreaterThan(guest.flatMap(\.opcodes).reduce(0) { $0 + $1.weight }, 96)
        for d in [D.restore, D.snapshot, D.setSregs] { XCTAssertGreaterThanOrEqual(d.opcodes[0].weight, 14) }
    }

    func testValueTablesFitTheEscapeScheme() {
        for t in ValueTable.allCases {
            XCTAssertFalse(t.values.isEmpty)
            XCTAssertLessThan(t.values.count, Int(ValueEscape.firstEscape))
            for v in t.values { XCTAssertEqual(v & t.mask, v, "\(t) \(v)") }
        }
        XCTAssertEqual(RestoreOrders.all.count, 325)
        XCTAssertEqual(Set(RestoreOrders.all).count, 325)
        XCTAssertEqual(RestoreOrders.table[0], .qemu)
        for order in RestoreOrders.all { XCTAssertEqual(RestoreOrder(order.steps), order) }
    }

    func testEveryRestoreOrderRoundTrips() {
        for order in RestoreOrders.all {
            for slot in Slot.allCases {
                let p = Program(operations: [.restore(slot, order), .run])
                XCTAssertEqual(ByteCodec.decode(ByteCodec.encode(p)), p, order.description)
            }
        }
    }

    func testTruncatedPayloadsTakeDefaults() {
        func only(_ bytes: [UInt8]) -> SVMFuzzKit.Operation? {
            let p = ByteCodec.decode(bytes)
            XCTAssertEqual(p.operations.count, 1)
            return p.operations.first
        }
        XCTAssertEqual(only([OperationDescriptions.vmrun.byte()]), .guest(.vmrun(gpa: 0x10000)))
        XCTAssertEqual(only([OperationDescriptions.wrmsr.byte(0)]), .guest(.wrmsr(msr: MSR.efer, value: 0x1d01)))
        XCTAssertEqual(only([OperationDescriptions.wrmsr.byte(0), ValueEscape.u32, 0x01]),
                       .guest(.wrmsr(msr: MSR.efer, value: 0x01)))
        XCTAssertEqual(only([OperationDescriptions.vmcb.byte(1)]), .vmcb(gpa: 0x10000, DefaultVmcb12.value))
        XCTAssertEqual(only([OperationDescriptions.raceVmcb.byte()]), .racingVmcb(DefaultVmcb12.value))
        XCTAssertEqual(only([OperationDescriptions.setSregs.byte()]), .setSregs(SregsPatch()))
        XCTAssertEqual(only([OperationDescriptions.restore.byte()]), .restore(.a, .qemu))
        XCTAssertEqual(only([OperationDescriptions.restore.byte(), 48 << 2 | 1]), .restore(.b, RestoreOrder([.sregs])!))
        XCTAssertEqual(only([OperationDescriptions.setNestedState.byte(), 0x0e]),
                       .setNestedState(.c, flags: 0x101, vmcbPa: 0x10000))
    }

    func testValueBytesAndEscapes() {
        let efer = OperationDescriptions.wrmsr.byte(0)
        let cases: [([UInt8], UInt64)] = [
            ([efer, 0], 0x1d01), ([efer, 1], 0xd01), ([efer, 2], 0x1501),
            ([efer, UInt8(ValueTable.efer.values.count)], 0x1d01),        // indices wrap around the table
            ([efer, 0xfc, 0x42], 0x42), ([efer, 0xfd, 0x01, 0x1d], 0x1d01),
            ([efer, 0xfe, 0x01, 0x0d, 0, 0], 0xd01),
            ([efer, 0xff, 1, 2, 3, 4, 5, 6, 7, 8], 0x0807_0605_0403_0201),
        ]
        for (bytes, v) in cases {
            XCTAssertEqual(ByteCodec.decode(bytes).operations, [.guest(.wrmsr(msr: MSR.efer, value: v))], "\(bytes)")
        }
        // 32-bit fields truncate literals.
        let other = OperationDescriptions.wrmsr.byte(3)
        XCTAssertEqual(ByteCodec.decode([other, 0xff, 0x80, 0, 0, 0xc0, 0xff, 0xff, 0xff, 0xff, 0]).operations,
                       [.guest(.wrmsr(msr: MSR.efer, value: 0x1d01))])
    }

    func testVmcbDecodesToTheDefaultPlusEdits() {
        let vmcb = OperationDescriptions.vmcb.byte(1)
        // efer -> table[1] (SVME clear), then (continuation bit) asid -> table[1] (0).
        let p = ByteCodec.decode([vmcb, 1, 0x80 | VmcbField.efer.rawValue, 1, VmcbField.asid.rawValue, 1])
        var expected = DefaultVmcb12.value
        expected.save.efer = 0xd01
        expected.control.asid = 0
        XCTAssertEqual(p.operations, [.vmcb(gpa: 0x11000, expected)])
        // An intercept toggle removes VMRUN (InterceptSet.named[0]).
        let t = ByteCodec.decode([vmcb, 0, VmcbField.interceptToggle.rawValue, 0])
        var noVmrun = DefaultVmcb12.value
        noVmrun.control.intercepts.remove(.vmrun)
        XCTAssertEqual(t.operations, [.vmcb(gpa: 0x10000, noVmrun)])
        // The plain vmcb opcode is the default vmcb12.
        XCTAssertEqual(ByteCodec.decode([OperationDescriptions.vmcb.byte(), 2]).operations, [.vmcb(gpa: 0x12000, DefaultVmcb12.value)])
        // race_vmcb: the same edit list without a GPA; the default image is written as one no-op edit.
        let race = OperationDescriptions.raceVmcb.byte()
        XCTAssertEqual(ByteCodec.decode([race, VmcbField.interceptToggle.rawValue, 0]).operations, [.racingVmcb(noVmrun)])
        XCTAssertEqual(ByteCodec.encode(Program(operations: [.racingVmcb(DefaultVmcb12.value)])),
                       [race, VmcbField.efer.rawValue, 0])
    }

    func testEnterL2ExpandsAndIsFoldedBack() {
        let bytes: [UInt8] = [ByteCodec.enterL2Opcode.first, 1, OperationDescriptions.vmmcall.byte()]
        let p = ByteCodec.decode(bytes)
        XCTAssertEqual(p.operations, ByteCodec.enterL2(vmcb: 0x11000) + [.guest(.vmmcall)])
        XCTAssertEqual(p.operations[0], .guest(.wrmsr(msr: MSR.efer, value: 0x1d01)))
        XCTAssertEqual(p.operations[1], .guest(.wrmsr(msr: MSR.vmHsavePa, value: 0x40000)))
        XCTAssertEqual(ByteCodec.encode(p), bytes)
    }

    func testConfigMagic() {
        let p = ByteCodec.decode([0xc5, 1 + 3 * 2, OperationDescriptions.run.byte()])   // nested=0 npt=1
        XCTAssertEqual(p.config, ProgramConfig(nested: false, npt: true))
        XCTAssertEqual(p.operations, [.run])
        let v = ByteCodec.decode([0xc6, 0, 4])
        XCTAssertEqual(v.config, ProgramConfig(variant: Variant.allCases[4]))
        XCTAssertEqual(v.operations, [])
        XCTAssertEqual(ByteCodec.decode([0xc5]), Program())
        // Elsewhere 0xc5 is an ordinary opcode.
        XCTAssertEqual(ByteCodec.decode([OperationDescriptions.run.byte(), 0xc5]).operations.count, 2)
        XCTAssertEqual(ByteCodec.encode(Program(operations: [.run])), [OperationDescriptions.run.byte()])
    }

    func testDictionaryMatchesTheEncoding() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("corpus/svm.dict")
        let text = try String(contentsOf: url, encoding: .utf8)
        var entries: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            entries[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        for (name, bytes) in DictionaryEntries.expected {
            let want = "\"" + bytes.map { String(format: "\\x%02x", $0) }.joined() + "\""
            XCTAssertEqual(entries[name], want, "corpus/svm.dict: expected \(name)=\(want)")
        }
        for (name, value) in entries {
            XCTAssertTrue(value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 3, "\(name)")
        }
    }
}

/// The dictionary entries that are tied to the encoding (the rest of corpus/svm.dict is literals).
enum DictionaryEntries {
    static func ops(_ o: [SVMFuzzKit.Operation]) -> [UInt8] { ByteCodec.encode(Program(operations: o)) }
    static func lit(_ escape: UInt8, _ v: UInt64, _ n: Int) -> [UInt8] {
        [escape] + (0..<n).map { UInt8(truncatingIfNeeded: v >> UInt64(8 * $0)) }
    }
    static var expected: [(String, [UInt8])] {
        var noSvme = DefaultVmcb12.value
        noSvme.save.efer = 0xd01
        var asid0 = DefaultVmcb12.value
        asid0.control.asid = 0
        var csLD = DefaultVmcb12.value
        csLD.save.csAttrib = 0x69b
        var softInt = DefaultVmcb12.value
        softInt.control.eventInj = 0x8000_0480
        var shadow = DefaultVmcb12.value
        shadow.control.intState = 1
        var vmmcallOnly = DefaultVmcb12.value
        vmmcallOnly.control.intercepts = [.vmmcall]
        var dr6High = DefaultVmcb12.value
        dr6High.save.dr6 |= 1 << 32
        var dr7High = DefaultVmcb12.value
        dr7High.save.dr7 |= 1 << 32
        return [
            ("enter_l2", ops(ByteCodec.enterL2(vmcb: 0x10000))),
            ("wrmsr_efer_svme", ops([.guest(.wrmsr(msr: MSR.efer, value: 0x1d01))])),
            ("wrmsr_efer_no_svme", ops([.guest(.wrmsr(msr: MSR.efer, value: 0xd01))])),
            ("wrmsr_hsave", ops([.guest(.wrmsr(msr: MSR.vmHsavePa, value: 0x40000))])),
            ("vmrun", ops([.guest(.vmrun(gpa: 0x10000))])),
            ("vmmcall", ops([.guest(.vmmcall)])),
            ("vmcb_default", ops([.vmcb(gpa: 0x10000, DefaultVmcb12.value)])),
            ("vmcb_efer_no_svme", ops([.vmcb(gpa: 0x10000, noSvme)])),
            ("vmcb_asid_0", ops([.vmcb(gpa: 0x10000, asid0)])),
            ("vmcb_cs_l_d", ops([.vmcb(gpa: 0x10000, csLD)])),
            ("vmcb_event_inj_soft", ops([.vmcb(gpa: 0x10000, softInt)])),
            ("vmcb_int_shadow", ops([.vmcb(gpa: 0x10000, shadow)])),
            ("signal", ops([.signal])),
            ("signal_vmrun", ops([.signal, .guest(.vmrun(gpa: 0x10000))])),
            ("smi_rsm", ops([.smi, .guest(.rsm)])),
            ("race_vmcb_vmmcall_only", ops([.racingVmcb(vmmcallOnly)])),
            ("set_vcpu_events_interrupt", ops([.setVcpuEvents(EventsPatch(interrupt: true))])),
            ("set_sregs_efer_no_svme", ops([.setSregs(SregsPatch(efer: 0xd01))])),
            ("set_msrs_efer_no_svme", ops([.setMsrs(MsrsPatch(efer: 0xd01))])),
            ("snapshot_a", ops([.snapshot(.a)])),
            ("restore_a_qemu", ops([.restore(.a, .qemu)])),
            ("restore_a_nested_first", ops([.restore(.a, RestoreOrder([.nested, .sregs, .regs, .msrs, .events])!)])),
            ("set_nested_state_a", ops([.setNestedState(.a, flags: nil, vmcbPa: nil)])),
            ("run_immediate_exit", ops([.runWith(RunRequest(immediateExit: true))])),
            ("run_sync_sregs_efer_no_svme", ops([.runWith(RunRequest(sregs: SregsPatch(efer: 0xd01)))])),
            ("run_immediate_exit_sync_sregs_efer_no_svme", ops([.runWith(RunRequest(immediateExit: true, sregs: SregsPatch(efer: 0xd01)))])),
            ("run_sync_events_triple_fault_0", ops([.runWith(RunRequest(events: EventsPatch(tripleFault: false)))])),
            ("run_sync_events_smm", ops([.runWith(RunRequest(events: EventsPatch(smm: true)))])),
            ("emulate_wrmsr_efer_no_svme", ops([.emulate(.wrmsr(msr: MSR.efer, value: 0xd01))])),
            ("vmcb_dr6_high", ops([.vmcb(gpa: 0x10000, dr6High)])),
            ("vmcb_dr7_high", ops([.vmcb(gpa: 0x10000, dr7High)])),
            ("set_vcpu_events_gp_pending", ops([.setVcpuEvents(EventsPatch(exception: 13))])),
            ("set_vcpu_events_gp_injected", ops([.setVcpuEvents(EventsPatch(exception: 13, exceptionInjected: true, errorCode: 0))])),
            ("set_nested_state_a_format_vmx", ops([.setNestedState(.a, flags: nil, vmcbPa: nil, format: 0)])),
            ("set_nested_state_a_size_header", ops([.setNestedState(.a, flags: nil, vmcbPa: nil, size: 0x80)])),
            ("restore_a_fresh", ops([.restore(.a, .qemu, intoFresh: true)])),
            ("destroy", ops([.destroy])),
            ("emulate_vmrun", ops([.emulate(.vmrun(gpa: 0x10000))])),
            ("emulate_vmload", ops([.emulate(.vmload(gpa: 0x10000))])),
            ("emulate_vmsave", ops([.emulate(.vmsave(gpa: 0x10000))])),
            ("emulate_vmmcall", ops([.emulate(.vmmcall)])),
            ("emulate_stgi", ops([.emulate(.stgi)])),
            ("emulate_clgi", ops([.emulate(.clgi)])),
            ("emulate_rsm", ops([.emulate(.rsm)])),
            ("reset", ops([.reset])),
            ("triple_fault", ops([.guest(.tripleFault)])),
            ("smi", ops([.smi])),
            ("rsm", ops([.guest(.rsm)])),
            ("config_fep", ByteCodec.encode(Program(config: ProgramConfig(fep: true)))),
            ("efer_1d01", lit(0xfd, 0x1d01, 2)),
            ("efer_0d01", lit(0xfd, 0xd01, 2)),
            ("efer_1501", lit(0xfd, 0x1501, 2)),
            ("msr_efer", lit(0xfe, 0xc000_0080, 4)),
            ("msr_hsave_pa", lit(0xfe, 0xc001_0117, 4)),
            ("msr_vm_cr", lit(0xfe, 0xc001_0114, 4)),
            ("gpa_vmcb", lit(0xfe, 0x10000, 4)),
            ("gpa_msrpm", lit(0xfe, 0x20000, 4)),
            ("gpa_hsave", lit(0xfe, 0x40000, 4)),
            ("gpa_beyond_ram", lit(0xff, 0x1_0000_0000, 8)),
            ("gpa_beyond_maxphyaddr", lit(0xff, 1 << 48, 8)),
            ("intercepts_vmrun_vmmcall", lit(0xff, DefaultVmcb12.value.control.intercepts.misc, 8)),
            ("intercepts_vmrun_only", lit(0xff, InterceptSet.vmrun.misc, 8)),
            ("config_npt_off", [ByteCodec.configMagic, ByteCodec.configByte(ProgramConfig(npt: false))]),
            ("config_vgif_off", [ByteCodec.configMagic, ByteCodec.configByte(ProgramConfig(vgif: false))]),
            ("config_nrips_off", ByteCodec.encode(Program(config: ProgramConfig(nrips: false), operations: []))),
            ("config_host_nrips_off", ByteCodec.encode(Program(config: ProgramConfig(hostNrips: false), operations: []))),
            ("config_host_vls_off", ByteCodec.encode(Program(config: ProgramConfig(hostVls: false), operations: []))),
        ]
    }
}

/// The property tests' PRNG: the project's SplitMix64, with a few conveniences.
typealias CodecRng = SplitMix64

extension SplitMix64 {
    mutating func bool() -> Bool { next() & 1 == 1 }
    mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }
    mutating func maybe<T>(_ make: (inout SplitMix64) -> T) -> T? { bool() ? make(&self) : nil }
}

/// Random programs covering every operation kind, random field subsets and edge values.
enum RandomPrograms {
    static let edges: [UInt64] = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x1_0000, 0xffff_ffff, 0x1_0000_0000,
                                  1 << 48, 1 << 63, ~0, 0x1d01, 0xd01, 0x1501, 0x10000, 0x8005_0033]

    static func value(_ r: inout CodecRng, bits: Int = 64) -> UInt64 {
        let v: UInt64
        switch r.below(4) {
        case 0: v = r.pick(edges)
        case 1: v = r.next()
        case 2: v = r.next() >> UInt64(r.below(64))
        default: v = r.pick(ValueTable.allCases).values.randomElement(using: &r) ?? 0
        }
        return bits == 64 ? v : v & ((1 << UInt64(bits)) - 1)
    }

    static func patch<P: PatchFields>(_ r: inout CodecRng, _: P.Type) -> P {
        var p = P.empty
        for (i, f) in P.fields.enumerated() where r.bool() { p[field: i] = f.isBool ? UInt64(r.below(2)) : value(&r) }
        return p
    }

    static func vmcb(_ r: inout CodecRng) -> Vmcb {
        var v = DefaultVmcb12.value
        for f in VmcbField.allCases where f != .interceptToggle && r.below(4) == 0 { f.set(&v, value(&r, bits: f.table.bits)) }
        return v
    }

    static func guest(_ r: inout CodecRng) -> GuestInstruction {
        switch r.below(9) {
        case 0: return .wrmsr(msr: r.bool() ? r.pick(MsrpmImage.known).index : UInt32(truncatingIfNeeded: value(&r)),
                              value: value(&r))
        case 1: return .vmrun(gpa: value(&r))
        case 2: return .vmmcall
        case 3: return .stgi
        case 4: return .clgi
        case 5: return .vmload(gpa: value(&r))
        case 6: return .vmsave(gpa: value(&r))
        case 7: return .tripleFault
        default: return .rsm
        }
    }

    static func expectation(_ r: inout CodecRng) -> Expectation {
        Expectation(exit: r.maybe { $0.pick(ExitReason.allCases) }, mode: r.maybe { $0.pick([Mode.l1, .l2, .smm]) },
                    gif: r.maybe { $0.bool() }, efer: r.maybe { value(&$0) },
                    violation: r.maybe { ExpectedViolation(Substring($0.pick(["none", "l1-runs-l2-state", "kvm-warn",
                        "kvm-warn:set_efer:positive-return", "inconsistent-state:smm-not-guest-mode"])))! },
                    ioctl: r.maybe { $0.pick(Errno.allCases) }, tripleFault: r.maybe { $0.bool() },
                    exitCode: r.maybe { value(&$0) }, exitInfo1: r.maybe { value(&$0) },
                    exception: r.maybe { $0.bool() ? ExpectedException.none : .vector(UInt8($0.below(256))) },
                    rip: r.maybe { value(&$0) }, rsp: r.maybe { value(&$0) }, rax: r.maybe { value(&$0) },
                    rflags: r.maybe { value(&$0) })
    }

    static func operation(_ r: inout CodecRng, withExpect: Bool) -> SVMFuzzKit.Operation {
        switch r.below(withExpect ? 20 : 19) {
        case 0, 1, 2: return .guest(guest(&r))
        case 3: return .vmcb(gpa: value(&r), vmcb(&r))
        case 4: return .msrpm(gpa: value(&r), MsrpmImage(reads: UInt8(r.below(256)), writes: UInt8(r.below(256))))
        case 5: return .smram(patch(&r, SmramPatch.self))
        case 6: return r.pick([.smi, .initSignal, .signal, .run, .reset, .destroy])
        case 7: return .setSregs(patch(&r, SregsPatch.self))
        case 8: return .setRegs(patch(&r, RegsPatch.self))
        case 9: return .setMsrs(patch(&r, MsrsPatch.self))
        case 10: return .setNestedState(r.pick(Slot.allCases), flags: r.maybe { UInt32(truncatingIfNeeded: value(&$0)) },
                                        vmcbPa: r.maybe { value(&$0) }, format: r.maybe { UInt16(truncatingIfNeeded: value(&$0)) },
                                        size: r.maybe { UInt32(truncatingIfNeeded: value(&$0)) })
        case 11: return .setVcpuEvents(patch(&r, EventsPatch.self))
        case 12: return .snapshot(r.pick(Slot.allCases))
        case 13, 14: return .restore(r.pick(Slot.allCases), r.bool() ? .qemu : r.pick(RestoreOrders.all), intoFresh: r.below(4) == 0)
        case 15: return .vmcb(gpa: value(&r), DefaultVmcb12.value)
        case 16: return .guest(.wrmsr(msr: MSR.efer, value: r.pick(ValueTable.efer.values)))
        case 17:    // sometimes a whole enter-L2 sequence, which the encoder folds
            return .guest(.wrmsr(msr: MSR.efer, value: ByteCodec.enterL2Efer))
        case 18: return .racingVmcb(r.bool() ? DefaultVmcb12.value : vmcb(&r))
        default: return .expect(expectation(&r))
        }
    }

    static func config(_ r: inout CodecRng) -> ProgramConfig {
        guard r.bool() else { return ProgramConfig() }
        return ProgramConfig(variant: r.maybe { $0.pick(Variant.allCases) }, nested: r.maybe { $0.bool() },
                             npt: r.maybe { $0.bool() }, vgif: r.maybe { $0.bool() }, svm: r.maybe { $0.bool() },
                             lm: r.maybe { $0.bool() }, nrips: r.maybe { $0.bool() }, fep: r.maybe { $0.bool() },
                             hostNrips: r.maybe { $0.bool() }, hostVls: r.maybe { $0.bool() })
    }

    static func program(_ r: inout CodecRng, withExpect: Bool) -> Program {
        var ops: [SVMFuzzKit.Operation] = []
        for _ in 0..<r.below(12) {
            if r.below(10) == 0 { ops += ByteCodec.enterL2(vmcb: value(&r)) } else { ops.append(operation(&r, withExpect: withExpect)) }
        }
        return Program(config: config(&r), operations: ops)
    }

    /// Random bytes, biased towards small value bytes, escapes and config magics.
    static func bytes(_ r: inout CodecRng, count: Int) -> [UInt8] {
        (0..<count).map { i in
            switch r.below(8) {
            case 0: return r.pick([0xc5, 0xc6, 0xfc, 0xfd, 0xfe, 0xff, 0x80])
            case 1, 2: return UInt8(r.below(8))
            default: return UInt8(truncatingIfNeeded: r.next() >> UInt64(i % 8))
            }
        }
    }
}

extension CodecRng: RandomNumberGenerator {}

private extension OperationDescription {
    /// The canonical byte of the description's opcode number `i`.
    func byte(_ i: Int = 0) -> UInt8 { opcodes[i].first }
}
