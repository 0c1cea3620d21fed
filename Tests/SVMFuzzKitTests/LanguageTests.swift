import Foundation
import XCTest
@testable import SVMFuzzKit
import SVMModel

/// The .svm language: the issue's examples, round trips, and errors with lines and helpful messages.
final class LanguageTests: XCTestCase {
    /// Issue 3 §1, verbatim.
    static let issueExample = """
    # comments start with '#'; blank lines are ignored; numbers are hex (0x..) or decimal
    config variant=merged npt=1 vgif=1          # optional, first non-comment line; all keys optional

    # guest instructions: executed inside KVM_RUN by whichever level is running (L1 or L2)
    wrmsr efer 0x1d01                           # also wrmsr hsave_pa <v>, wrmsr vm_cr <v>, wrmsr <index> <v>
    vmrun 0x10000
    vmmcall
    stgi
    clgi
    vmload 0x10000
    vmsave 0x10000
    triple_fault                                # the running level triple-faults
    rsm                                         # leave SMM

    # guest memory, written before use
    vmcb 0x10000 intercepts=vmrun,vmmcall,shutdown,msr_prot asid=1 msrpm=0x20000 efer=0x1d01 cr0=0x80050033 cr3=0x3000 cr4=0x20 rip=0x4000 rsp=0x8000 rax=0
    msrpm 0x20000 write=efer read=-              # MSRs whose reads/writes L1 intercepts; '-' for none
    smram efer=0x1d01 svm_guest=1 vmcb=0x10000

    # platform events
    smi
    init
    signal                                       # the next entry attempt returns KVM_EXIT_INTR instead

    # userspace, between KVM_RUN calls
    run                                          # KVM_RUN that enters and leaves with no guest instruction
    set_sregs efer=0x500 cr0=0x80050033          # fields not named keep their current values
    set_regs rip=0x1000 rsp=0x2000 rax=0
    set_msrs efer=0x1d01
    set_nested_state A flags=guest_mode,gif_set  # nested blob from snapshot slot A; flags override optional
    set_vcpu_events smm=0 triple_fault=0
    snapshot A                                   # GET_REGS, GET_SREGS, GET_MSRS, GET_VCPU_EVENTS, GET_NESTED_STATE
    restore A order=qemu                         # or order=sregs,nested,regs,msrs,events in any permutation
    reset                                        # the VMM's system reset: put the reset state in QEMU's order

    # assertions, for hand-written scenarios (the fuzzer never generates them)
    expect exit=shutdown                         # the last exit to userspace: none, shutdown, or another reason's name
    expect mode=l1 gif=0 efer=0x1d01 violation=none ioctl=ok   # mode: l1, l2 or smm; ioctl: ok or the errno name
    """

    func testIssueExampleParsesWithTheIntendedFields() throws {
        let p = try SVMText.parse(Self.issueExample, file: "issue.svm")
        XCTAssertEqual(p.config, ProgramConfig(variant: .merged, npt: true, vgif: true))
        var vmcb = DefaultVmcb12.value
        vmcb.control.intercepts = [.vmrun, .vmmcall, .shutdown, .msrProt]
        vmcb.control.msrpmBasePa = 0x20000
        let expected: [SVMFuzzKit.Operation] = [
            .guest(.wrmsr(msr: MSR.efer, value: 0x1d01)),
            .guest(.vmrun(gpa: 0x10000)), .guest(.vmmcall), .guest(.stgi), .guest(.clgi),
            .guest(.vmload(gpa: 0x10000)), .guest(.vmsave(gpa: 0x10000)), .guest(.tripleFault), .guest(.rsm),
            .vmcb(gpa: 0x10000, vmcb),
            .msrpm(gpa: 0x20000, MsrpmImage(reads: 0, writes: 1)),
            .smram(SmramPatch(efer: 0x1d01, svmGuest: true, vmcb: 0x10000)),
            .smi, .initSignal, .signal, .run,
            .setSregs(SregsPatch(efer: 0x500, cr0: 0x8005_0033)),
            .setRegs(RegsPatch(rip: 0x1000, rsp: 0x2000, rax: 0)),
            .setMsrs(MsrsPatch(efer: 0x1d01)),
            .setNestedState(.a, flags: NestedFlag.guestMode | NestedFlag.gifSet, vmcbPa: nil),
            .setVcpuEvents(EventsPatch(smm: false, tripleFault: false)),
            .snapshot(.a), .restore(.a, .qemu), .reset,
            .expect(Expectation(exit: .shutdown)),
            .expect(Expectation(mode: .l1, gif: false, efer: 0x1d01, violation: ExpectedViolation.none, ioctl: .ok)),
        ]
        XCTAssertEqual(p.operations.count, expected.count)
        for (a, b) in zip(p.operations, expected) { XCTAssertEqual(a, b) }
        XCTAssertEqual(p.lines, [5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 18, 21, 22, 23, 26, 27, 28, 29, 30, 31, 32, 33, 34, 37, 38])
        XCTAssertEqual(try SVMText.parse(SVMText.print(p), file: "printed.svm"), p)
    }

    func testOtherSpellings() throws {
        func op(_ line: String) throws -> SVMFuzzKit.Operation? { try SVMText.parse(line, file: "t").operations.first }
        XCTAssertEqual(try op("wrmsr hsave_pa 0x40000"), .guest(.wrmsr(msr: MSR.vmHsavePa, value: 0x40000)))
        XCTAssertEqual(try op("wrmsr vm_cr 8"), .guest(.wrmsr(msr: MSR.vmCr, value: 8)))
        XCTAssertEqual(try op("wrmsr 0xc0000080 3329"), .guest(.wrmsr(msr: MSR.efer, value: 0xd01)))
        XCTAssertEqual(try op("wrmsr 16 0X10"), .guest(.wrmsr(msr: 0x10, value: 0x10)))
        XCTAssertEqual(try op("restore b order=nested,sregs"), .restore(.b, RestoreOrder([.nested, .sregs])!))
        XCTAssertEqual(try op("restore d order=sregs,nested,regs,msrs,events"), .restore(.d, .qemu))
        XCTAssertEqual(try op("restore C"), .restore(.c, .qemu))
        XCTAssertEqual(try op("set_nested_state b flags=0 vmcb_pa=0x11000"), .setNestedState(.b, flags: 0, vmcbPa: 0x11000))
        XCTAssertEqual(try op("set_nested_state A flags=0x103"), .setNestedState(.a, flags: 0x103, vmcbPa: nil))
        XCTAssertEqual(try op("set_nested_state A flags=guest_mode,run_pending,gif_set"),
                       .setNestedState(.a, flags: 0x103, vmcbPa: nil))
        XCTAssertEqual(try op("set_vcpu_events smi_pending=1 latched_init=1"),
                       .setVcpuEvents(EventsPatch(smiPending: true, latchedInit: true)))
        XCTAssertEqual(try op("msrpm 0x20000 write=efer,0xc0010114 read=hsave_pa"),
                       .msrpm(gpa: 0x20000, MsrpmImage(reads: 1 << 4, writes: 1 | 1 << 3)))
        var v = DefaultVmcb12.value
        v.control.intercepts = []
        v.control.miscCtl = 1
        v.control.intCtl = IntCtl.vGifEnable
        v.save.cpl = 3
        XCTAssertEqual(try op("vmcb 0x10000 intercepts=- np=1 int_ctl=0x2000000 cpl=3"), .vmcb(gpa: 0x10000, v))
        XCTAssertEqual(try op("smram"), .smram(SmramPatch()))
        XCTAssertEqual(try op("vmcb 0x10000"), .vmcb(gpa: 0x10000, DefaultVmcb12.value))
        var raced = DefaultVmcb12.value
        raced.control.intercepts = [.vmmcall]
        raced.control.asid = 0
        XCTAssertEqual(try op("race_vmcb intercepts=vmmcall asid=0"), .racingVmcb(raced))
        XCTAssertEqual(try op("race_vmcb"), .racingVmcb(DefaultVmcb12.value))
        XCTAssertEqual(SVMText.line(.racingVmcb(raced)), "race_vmcb intercepts=vmmcall asid=0 msrpm=0 iopm=0 int_ctl=0 "
            + "np=0 ncr3=0 efer=0x1d01 cr0=0x80050033 cr2=0 cr3=0x3000 cr4=0x20 rip=0x4000 rsp=0x8000 rax=0 rflags=0x2 cpl=0")
        XCTAssertThrowsError(try op("race_vmcb 0x10000"))
        XCTAssertEqual(try op("expect violation=l1-runs-l2-state triple_fault=1 exit=internal_error mode=smm ioctl=einval"),
                       .expect(Expectation(exit: .internalError, mode: .smm, violation: ExpectedViolation("l1-runs-l2-state"),
                                           ioctl: .einval, tripleFault: true)))
        XCTAssertEqual(try SVMText.parse("\n# c\nrun#x\n\t reset\r\n", file: "t").lines, [3, 4])
        let crlf = try SVMText.parse("run\r\n\r\nreset\r\nsnapshot b\r\n", file: "t")
        XCTAssertEqual(crlf.operations, [.run, .reset, .snapshot(.b)])
        XCTAssertEqual(crlf.lines, [1, 3, 4])
        XCTAssertEqual(try SVMText.parse("", file: "t"), Program())
    }

    func testPrintIsCanonicalAndReadable() throws {
        let p = Program(config: ProgramConfig(variant: .prefix, npt: false), operations: [
            .vmcb(gpa: 0x10000, DefaultVmcb12.value), .guest(.wrmsr(msr: 0x10, value: 0)),
            .restore(.b, RestoreOrder([.nested, .sregs, .regs, .msrs, .events])!), .restore(.a, .qemu),
            .setNestedState(.c, flags: 0x105, vmcbPa: nil),
        ])
        XCTAssertEqual(SVMText.print(p), """
        config variant=prefix npt=0
        vmcb 0x10000 intercepts=vmrun,vmmcall asid=1 msrpm=0 iopm=0 int_ctl=0 np=0 ncr3=0 efer=0x1d01 \
        cr0=0x80050033 cr2=0 cr3=0x3000 cr4=0x20 rip=0x4000 rsp=0x8000 rax=0 rflags=0x2 cpl=0
        wrmsr 0x10 0
        restore B order=nested,sregs,regs,msrs,events
        restore A order=qemu
        set_nested_state C flags=guest_mode,gif_set,0x4

        """)
        XCTAssertEqual(SVMText.print(Program(operations: [.run, .reset]), comments: [1: "here"]),
                       "run\nreset" + String(repeating: " ", count: 40) + "# here\n")
    }

    func testParsePrintRoundTripsRandomPrograms() throws {
        var rng = CodecRng(seed: 11)
        for i in 0..<3000 {
            let p = RandomPrograms.program(&rng, withExpect: true)
            let text = SVMText.print(p)
            do {
                let q = try SVMText.parse(text, file: "random.svm")
                if q != p {
                    XCTFail("program \(i) did not round-trip:\n\(text)\ngot\n\(SVMText.print(q))")
                    return
                }
                XCTAssertEqual(SVMText.print(q), text)
            } catch {
                XCTFail("program \(i): \(error)\n\(text)")
                return
            }
        }
    }

    func testErrorsNameTheLineAndWhatWasExpected() {
        let cases: [(String, Int, String)] = [
            ("run\n\nvmrum 0x10000", 3,
             "unknown operation 'vmrum' (expected one of: wrmsr, vmrun, vmmcall, stgi, clgi, vmload, vmsave, "
             + "triple_fault, rsm, vmcb, race_vmcb, msrpm, smram, smi, init, signal, run, set_sregs, set_regs, set_msrs, "
             + "set_nested_state, set_vcpu_events, snapshot, restore, reset, expect, emulate, destroy, config)"),
            ("set_sregs foo=1", 1, "unknown field 'foo' for set_sregs (expected efer, cr0, cr2, cr3, cr4)"),
            ("# x\nset_regs rip=zz", 2, "expected a number after 'rip=', got 'zz'"),
            ("vmrun 0x", 1, "expected a number after 'vmrun', got '0x'"),
            ("vmrun 12a", 1, "expected a number after 'vmrun', got '12a'"),
            ("wrmsr 0x1ffffffff 0", 1, "value 0x1ffffffff does not fit in 32 bits for the MSR index"),
            ("set_regs rip=0x10000000000000000", 1, "value 0x10000000000000000 does not fit in 64 bits for rip"),
            ("set_regs rax=18446744073709551616", 1, "value 18446744073709551616 does not fit in 64 bits for rax"),
            ("vmcb 0x10000 asid=0x100000000", 1, "value 0x100000000 does not fit in 32 bits for asid"),
            ("vmcb 0x10000 cpl=256", 1, "value 256 does not fit in 8 bits for cpl"),
            ("vmrun", 1, "expected a GPA after 'vmrun'"),
            ("wrmsr", 1, "expected an MSR name (efer, star, lstar, vm_cr, hsave_pa) or index after 'wrmsr'"),
            ("wrmsr efer", 1, "expected a value after 'wrmsr efer'"),
            ("wrmsr foo 1", 1, "expected an MSR name (efer, star, lstar, vm_cr, hsave_pa) or index after 'wrmsr', got 'foo'"),
            ("snapshot", 1, "expected a slot (A-D) after 'snapshot'"),
            ("snapshot E", 1, "expected a slot (A-D) after 'snapshot', got 'E'"),
            ("restore AB", 1, "expected a slot (A-D) after 'restore', got 'AB'"),
            ("restore A order=sregs,nested,sregs", 1, "repeated step 'sregs' in order="),
            ("restore A order=sregs,foo", 1,
             "unknown restore step 'foo' in order= (expected qemu or a comma list of sregs, nested, regs, msrs, events)"),
            ("run\nconfig npt=0", 2, "'config' must be the first non-comment line"),
            ("config npt=0\nconfig vgif=0", 2, "'config' must be the first non-comment line"),
            ("config variant=v3", 1,
             "unknown variant 'v3' (expected one of: " + Variant.allCases.map(\.rawValue).joined(separator: ", ") + ")"),
            ("config npt=2", 1, "expected 0 or 1 after 'npt=', got '2'"),
            ("vmmcall 1", 1, "unexpected '1' after vmmcall (it takes no further operands)"),
            ("set_sregs efer", 1, "expected key=value for set_sregs (keys: efer, cr0, cr2, cr3, cr4), got 'efer'"),
            ("set_sregs efer=", 1, "expected a value after 'efer='"),
            ("set_msrs efer=1 efer=2", 1, "duplicate field 'efer' for set_msrs"),
            ("vmcb 0x10000 intercepts=vmrun,bogus", 1,
             "unknown intercept 'bogus' in intercepts= (expected a comma list of vmrun, vmmcall, shutdown, msr_prot, "
             + "init, smi, intr, nmi, vmload, vmsave, stgi, clgi, gp, ud, rsm, exc:<vector>, exit:<code 0x60-0x9f>, or -)"),
            ("msrpm 0x20000 write=tsc", 1,
             "unknown MSR 'tsc' in write= (expected a comma list of efer, star, lstar, vm_cr, hsave_pa, their indices, or -)"),
            ("set_nested_state A flags=bogus", 1,
             "unknown nested-state flag 'bogus' in flags= (expected a comma list of guest_mode, run_pending, gif_set, or a number)"),
            ("set_vcpu_events smm=yes", 1, "expected 0 or 1 after 'smm=', got 'yes'"),
            ("expect mode=l3", 1, "unknown mode 'l3' (expected one of: l1, l2, smm)"),
            ("expect exit=boom", 1,
             "unknown exit 'boom' (expected one of: none, shutdown, intr, internal_error, fail_entry, unknown, vm_dead, hang)"),
            ("expect ioctl=enoent", 1, "unknown ioctl 'enoent' (expected one of: ok, einval, enomem, efault, e2big, eio, ebusy)"),
        ]
        for (text, line, message) in cases {
            do {
                let p = try SVMText.parse(text, file: "bad.svm")
                XCTFail("\(text) parsed as \(p)")
            } catch let e as ParseError {
                XCTAssertEqual(e, ParseError(file: "bad.svm", line: line, message: message), text)
                XCTAssertEqual(e.description, "bad.svm:\(line): \(message)")
            } catch {
                XCTFail("\(text): unexpected \(error)")
            }
        }
    }

    func testCorpusFilesRoundTrip() throws {
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("corpus")
        guard let files = FileManager.default.enumerator(at: corpus, includingPropertiesForKeys: nil) else { return }
        for case let url as URL in files where url.pathExtension == "svm" {
            let p = try SVMText.parse(String(contentsOf: url, encoding: .utf8), file: url.lastPathComponent)
            XCTAssertEqual(try SVMText.parse(SVMText.print(p), file: "printed"), p, url.lastPathComponent)
            let noExpect = Program(config: p.config, operations: p.operations.filter {
                if case .expect = $0 { return false } else { return true }
            })
            XCTAssertEqual(ByteCodec.decode(ByteCodec.encode(p)), noExpect, url.lastPathComponent)
        }
    }

    func testRandomTextNeverTraps() {
        var rng = CodecRng(seed: 12)
        let words = ["vmcb", "0x10000", "intercepts=", "vmrun,", "-", "=", "#", "restore", "A", "order=", "sregs,",
                     "0x", "1", "99999999999999999999", "config", "\n", " ", "set_sregs", "efer=", "flags=", ",",
                     "wrmsr", "efer", "msrpm", "write=", "bit9", "exc:40", "exit:0x5f", "\u{00e9}", "\u{ff11}", "\t"]
        for _ in 0..<3000 {
            let text = (0..<rng.below(12)).map { _ in rng.pick(words) }.joined()
            if let p = try? SVMText.parse(text, file: "fuzz") {
                XCTAssertEqual(try? SVMText.parse(SVMText.print(p), file: "again"), p, text)
            }
        }
    }
}
