import Foundation
import XCTest
@testable import SVMFuzzKit
import SVMModel

/// What the language can say since issue 14 §4 (the upstream tests needed it): `expect` on vmcb12's exit
/// fields, the exception and the registers; `set_vcpu_events exception=`; vmcb `dr6`/`dr7`; `destroy`;
/// `restore ... into=fresh`; `set_nested_state format= size=`. Text, bytes, and what each does in the
/// model; then the translated upstream tests under corpus/upstream-tests/.
final class UpstreamLanguageTests: XCTestCase {
    private func parse(_ text: String) throws -> Program { try SVMText.parse(text, file: "t.svm") }
    private func op(_ line: String) throws -> SVMFuzzKit.Operation { try XCTUnwrap(parse(line).operations.first) }

    private func assertRoundTrips(_ line: String, _ want: SVMFuzzKit.Operation, file: StaticString = #filePath, line l: UInt = #line) throws {
        XCTAssertEqual(try op(line), want, file: file, line: l)
        XCTAssertEqual(SVMText.line(want), line, file: file, line: l)
        let p = Program(operations: [want])
        if case .expect = want { return }
        XCTAssertEqual(ByteCodec.decode(ByteCodec.encode(p)), p, line, file: file, line: l)
    }

    func testTextAndBytes() throws {
        try assertRoundTrips("expect exit_code=0x4c exit_info1=0xdeadbeef exception=12 rip=0x4000 rsp=0x8000 rax=0 rflags=0x2",
                             .expect(Expectation(exitCode: 0x4c, exitInfo1: 0xdead_beef, exception: .vector(12), rip: 0x4000,
                                                 rsp: 0x8000, rax: 0, rflags: 2)))
        try assertRoundTrips("expect exception=none", .expect(Expectation(exception: ExpectedException.none)))
        try assertRoundTrips("set_vcpu_events exception=0xc injected error_code=0xdeadbeef",
                             .setVcpuEvents(EventsPatch(exception: 12, exceptionInjected: true, errorCode: 0xdead_beef)))
        try assertRoundTrips("set_vcpu_events smm=0 exception=0xd pending",
                             .setVcpuEvents(EventsPatch(smm: false, exception: 13, exceptionInjected: false)))
        try assertRoundTrips("run sync_events exception=0xe",
                             .runWith(RunRequest(events: EventsPatch(exception: 14))))
        XCTAssertEqual(try op("set_vcpu_events injected exception=13"),
                       .setVcpuEvents(EventsPatch(exception: 13, exceptionInjected: true)))
        try assertRoundTrips("set_nested_state A format=0 size=0x7f",
                             .setNestedState(.a, flags: nil, vmcbPa: nil, format: 0, size: 0x7f))
        try assertRoundTrips("restore B order=qemu into=fresh", .restore(.b, .qemu, intoFresh: true))
        XCTAssertEqual(try op("restore B into=current"), .restore(.b, .qemu))
        try assertRoundTrips("destroy", .destroy)
        var v = DefaultVmcb12.value
        v.save.dr6 = 0x1_ffff_0ff0
        v.save.dr7 = 0
        XCTAssertEqual(try op("vmcb 0x10000 dr6=0x1ffff0ff0 dr7=0"), .vmcb(gpa: 0x10000, v))
        // Printed only when they differ from the default vmcb12 (DR6/DR7 at their reset values).
        XCTAssertTrue(SVMText.line(.vmcb(gpa: 0x10000, v)).hasSuffix(" dr6=0x1ffff0ff0 dr7=0"))
        XCTAssertFalse(SVMText.line(.vmcb(gpa: 0x10000, DefaultVmcb12.value)).contains("dr6"))
        XCTAssertEqual(ByteCodec.decode(ByteCodec.encode(Program(operations: [.vmcb(gpa: 0x10000, v)]))).operations,
                       [.vmcb(gpa: 0x10000, v)])

        for (text, message) in [
            ("set_vcpu_events pending injected", "duplicate 'pending/injected' for set_vcpu_events"),
            ("set_vcpu_events exception=13 soon",
             "expected key=value or pending/injected for set_vcpu_events (keys: smm, smi_pending, latched_init, "
             + "triple_fault, interrupt, exception, error_code), got 'soon'"),
            ("set_vcpu_events exception=256", "value 256 does not fit in 8 bits for exception"),
            ("restore A into=elsewhere", "expected fresh or current after 'into=', got 'elsewhere'"),
            ("set_nested_state A format=0x10000", "value 0x10000 does not fit in 16 bits for format"),
            ("expect exception=gp", "expected none or a vector (0-255) after 'exception=', got 'gp'"),
            ("destroy now", "unexpected 'now' after destroy (it takes no further operands)"),
        ] {
            XCTAssertThrowsError(try parse(text), text) { e in
                XCTAssertEqual((e as? ParseError)?.message, message, text)
            }
        }
    }

    /// The byte encodings took room no stored input used: DR6/DR7 are edit ids 0x7e/0x7f (every other id
    /// wraps over the 26 original fields), the exception fields are set_vcpu_events' mask bits 5-7,
    /// format/size set_nested_state's bits 4-5, into=fresh restore's indices 32-47 and 56-63, destroy 0xfc.
    func testTheNewBytes() {
        XCTAssertEqual(VmcbField.decode(0x7e), .dr6)
        XCTAssertEqual(VmcbField.decode(0xff), .dr7)
        XCTAssertEqual(VmcbField.decode(26), .efer, "ids past the original fields wrap as before")
        XCTAssertEqual(VmcbField.decode(0x7d), VmcbField(rawValue: 0x7d % 26))
        XCTAssertEqual(ByteCodec.decode([0xd4, 0xe0, 0x00, 0x01, 0x00]).operations,
                       [.setVcpuEvents(EventsPatch(exception: 13, exceptionInjected: true, errorCode: 0))])
        XCTAssertEqual(ByteCodec.decode([0xca, 0x31, 0x01, 0x01]).operations,
                       [.setNestedState(.b, flags: nil, vmcbPa: nil, format: 0, size: 0x80)])
        XCTAssertEqual(ByteCodec.decode([0xea, 0x80 | 1]).operations, [.restore(.b, .qemu, intoFresh: true)])
        XCTAssertEqual(ByteCodec.decode([0xea, 0x40 | 1]).operations, [.restore(.b, .qemu)], "index 16 wraps to 0 as before")
        XCTAssertEqual(ByteCodec.decode([0xea, 56 << 2, 0]).operations.first.map { if case .restore(_, _, let f) = $0 { return f } else { return false } }, true)
        XCTAssertEqual(ByteCodec.decode([0xfc, 0xfa, 0xfb]).operations, [.destroy, .reset, .reset])
    }

    // MARK: - What they do

    private func run(_ text: String, variant: Variant = .merged) throws -> RunReport {
        Runner.run(try parse(text), variant: variant)
    }

    private let enterL2 = """
    wrmsr efer 0x1d01
    wrmsr hsave_pa 0x40000
    vmcb 0x10000 intercepts=vmrun,vmmcall,exc:13
    vmrun 0x10000

    """

    func testExpectReadsVmcb12TheExceptionAndTheRegisters() throws {
        let r = try run(enterL2 + """
        vmmcall
        expect mode=l1 exit_code=0x81 exit_info1=0 exception=none rsp=0x8000 rflags=0x2
        vmrun 0x1008
        expect exception=13
        expect exception=0 exit_code=0x81 rax=0x1
        """)
        XCTAssertNil(r.violation)
        // Only the last line fails, each of its keys by itself: the expect before it did not hide the #GP,
        // and exit_code is read from the vmcb12 the last VMRUN named (0x1008's page holds none).
        XCTAssertEqual(r.expectFailures.map(\.wanted), ["exit_code=0x81", "exception=0", "rax=0x1"])
        XCTAssertEqual(r.expectFailures.map(\.got), ["exit_code=0x0", "exception=13", "rax=0x1008"])
    }

    func testUserspaceExceptionsPendingOrInjected() throws {
        // Pending: L1 intercepts #GP, so KVM_RUN turns it into #VMEXIT(#GP) with exit_info_1 = its error code.
        var r = try run(enterL2 + "set_vcpu_events exception=13 error_code=0x18\nrun\n"
                        + "expect mode=l1 gif=0 exit_code=0x4d exit_info1=0x18 exception=none")
        XCTAssertTrue(r.isClean, "\(String(describing: r.violation)) \(r.expectFailures)")
        // Injected: re-injected into L2 whatever L1 intercepts.
        r = try run(enterL2 + "set_vcpu_events exception=13 injected error_code=0x18\nrun\nexpect mode=l2 exception=13 exit_code=0")
        XCTAssertTrue(r.isClean, "\(String(describing: r.violation)) \(r.expectFailures)")
        // Not intercepted: delivered to L2.
        r = try run(enterL2 + "set_vcpu_events exception=6\nrun\nexpect mode=l2 exception=6")
        XCTAssertTrue(r.isClean, "\(r.expectFailures)")
        // KVM_SET_REGS drops a pending exception, not an injected one (__set_regs).
        r = try run(enterL2 + "set_vcpu_events exception=13\nset_regs rax=1\nrun\nexpect mode=l2 exception=none")
        XCTAssertTrue(r.isClean, "\(r.expectFailures)")
        r = try run(enterL2 + "set_vcpu_events exception=13 injected\nset_regs rax=1\nrun\nexpect mode=l2 exception=13")
        XCTAssertTrue(r.isClean, "\(r.expectFailures)")
        // An injected exception is re-injected before a nested #VMEXIT for INIT (block_nested_events).
        let initExit = "wrmsr efer 0x1d01\nwrmsr hsave_pa 0x40000\nvmcb 0x10000 intercepts=vmrun,vmmcall,init\nvmrun 0x10000\n"
        r = try run(initExit + "set_vcpu_events exception=13 injected\ninit\nrun\nexpect mode=l1 exception=13 exit_code=0x63")
        XCTAssertTrue(r.isClean, "\(r.expectFailures)")
    }

    func testSetVcpuEventsRefusesNonExceptionVectors() throws {
        for vector in [2, 32, 255] {
            var ex = Executor(config: VcpuConfig())
            let rec = ex.execute(.setVcpuEvents(EventsPatch(exception: UInt8(vector))))
            XCTAssertEqual(rec.ioctlResult, .einval, "\(vector)")
            XCTAssertEqual(rec.ioctls.last?.refusal, .vcpuEvents(.exceptionVector), "\(vector)")
            XCTAssertNil(ex.vcpu.exception, "a refused block changes nothing")
        }
        XCTAssertEqual(ViolationReason("KVM_SET_VCPU_EVENTS:exception-vector"), .refused(.setVcpuEvents, .vcpuEvents(.exceptionVector)))
    }

    func testSoftExceptionsAreNotReported() {
        var v = Vcpu.makeL1(config: VcpuConfig())
        XCTAssertEqual(v.setVcpuEvents(smm: nil, exception: .some(KvmException(vector: Vector.bp))), .ok)
        XCTAssertEqual(v.exception?.vector, Vector.bp, "queued")
        XCTAssertNil(v.getVcpuEvents().exception, "KVM_GET_VCPU_EVENTS leaves #BP and #OF out")
    }

    func testNestedStateFormatAndSize() throws {
        let base = enterL2 + "snapshot A\n"
        for (line, rule) in [("set_nested_state A format=0", NestedStateRefusal.format),
                             ("set_nested_state A size=0x7f", .headerSize),
                             ("set_nested_state A size=0x80", .size),
                             ("set_nested_state A size=0x107f", .size),
                             ("set_nested_state A flags=0x4 format=0", .format),   // EVMCS passes the generic check
                             ("set_nested_state A flags=0x10 format=0", .flags)] {
            var ex = Executor(config: VcpuConfig())
            for o in try parse(base).operations { ex.execute(o) }
            let rec = ex.execute(try op(line))
            XCTAssertEqual(rec.ioctlResult, .einval, line)
            XCTAssertEqual(rec.ioctls.last?.refusal, .nestedState(rule), line)
            XCTAssertEqual(ex.vcpu.mode, .l2, "\(line): nothing committed")
        }
        // A larger size is accepted; without GUEST_MODE the header alone is enough.
        let r = try run(base + "set_nested_state A size=0x2080\nexpect ioctl=ok mode=l2\n"
                        + "set_nested_state A flags=gif_set size=0x80\nexpect ioctl=ok mode=l1")
        XCTAssertTrue(r.isClean, "\(r.expectFailures)")
    }

    func testDestroyTearsTheVcpuDownAndStartsANewOne() throws {
        // In L2: merged leaves nested first (917401f26a6a), zoo-B08 WARNs in svm_free_nested.
        let prog = enterL2 + "snapshot A\ndestroy\nexpect mode=l1 efer=0xd01 rip=0x1000 rsp=0x8000 rax=0 gif=1\n"
            + "restore A\nexpect mode=l2\nrun\nexpect mode=l2 violation=none"
        XCTAssertTrue(try run(prog).isClean)
        XCTAssertEqual(try run(prog, variant: .zooB08).violation?.id, .kvmWarn(.freeNestedNotVmcb01))
        // Guest memory outlives the VM: the new vCPU's VMRUN finds the vmcb12 written before.
        let again = try run(enterL2 + "destroy\nwrmsr efer 0x1d01\nwrmsr hsave_pa 0x40000\nvmrun 0x10000\nexpect mode=l2")
        XCTAssertTrue(again.isClean, "\(again.expectFailures)")
    }

    func testRestoreIntoAFreshVcpu() throws {
        // The triple fault pending on the old vCPU is not inherited by the new one, even with VCPU_EVENTS
        // left out; the migration target runs L2 from the snapshot.
        let r = try run(enterL2 + "snapshot A\nset_vcpu_events triple_fault=1\n"
                        + "restore A order=sregs,nested,regs,msrs into=fresh\nexpect mode=l2 triple_fault=0 violation=none\n"
                        + "run\nexpect mode=l2 exit=intr")
        XCTAssertTrue(r.isClean, "\(String(describing: r.violation)) \(r.expectFailures)")
        // Into this vCPU, the same restore keeps the triple fault (KVM_SET_VCPU_EVENTS was not issued).
        let same = try run(enterL2 + "snapshot A\nset_vcpu_events triple_fault=1\n"
                           + "restore A order=sregs,nested,regs,msrs\nexpect triple_fault=1")
        XCTAssertTrue(same.isClean, "\(same.expectFailures)")
        // restore-mismatch judges restores into a fresh vCPU too: zoo-B26's cached vmcb12 gives the migrated
        // L2 back an interrupt shadow that had ended (ZooInvariantTests, into this vCPU).
        let shadow = "config nrips=0\nwrmsr efer 0x1d01\nwrmsr hsave_pa 0x40000\nvmcb 0x10000 intercepts=vmrun int_state=1\n"
            + "vmrun 0x10000\nvmmcall\nsnapshot A\nrestore A order=events,sregs,nested,regs,msrs into=fresh"
        XCTAssertEqual(try run(shadow, variant: .zooB26).violation?.id, .restoreMismatch)
        XCTAssertNil(try run(shadow).violation)
    }

    func testVmrunOutcomeJudgesDr6AndDr7() throws {
        // KVM refuses them (nested_vmcb_check_save), so vmrun-outcome is quiet on merged ...
        let r = try run("wrmsr efer 0x1d01\nwrmsr hsave_pa 0x40000\nvmcb 0x10000 dr7=0x100000400\nvmrun 0x10000\n"
                        + "expect mode=l1 gif=0 exit_code=0xffffffffffffffff")
        XCTAssertTrue(r.isClean, "\(String(describing: r.violation)) \(r.expectFailures)")
        // ... and a KVM that entered L2 with such a vmcb12 is what it reports.
        var ex = Executor(config: VcpuConfig())
        for o in Build.enterL2() { ex.execute(o) }
        var high = DefaultVmcb12.value
        high.save.dr6 |= 1 << 32
        XCTAssertEqual(VmrunOutcome.apmRefusal(high, VcpuConfig()), "DR6[63:32] set")
        XCTAssertEqual(VmrunOutcome.check(vmcb12: high, record: StepRecord(step: 4, line: 0), after: ex.vcpu),
                       "VMRUN of a vmcb12 with DR6[63:32] set did not end in #VMEXIT(INVALID)")
    }

    // MARK: - The translated upstream tests

    /// The upstream tests this language made translatable (corpus/upstream-tests/, replayed clean
    /// with every expect holding by CorpusReplayTests); here what they show on the variants they are about.
    func testTranslatedUpstreamTestsOnTheirBugs() throws {
        let dir = CorpusReplayTests.corpus.appendingPathComponent("upstream-tests")
        func load(_ name: String) throws -> Program {
            try SVMText.parse(String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8), file: name)
        }
        for name in ["nested-close-kvm.svm", "nested-exceptions.svm", "state-test.svm", "kvm-unit-tests-dr6-dr7.svm",
                     "svm-nested-vmcb12-gpa-invalid.svm"] {
            let r = Runner.run(try load(name))
            XCTAssertTrue(r.isClean, "\(name): \(String(describing: r.violation)) \(r.expectFailures)")
        }
        // The bug nested_close_kvm_test was written against.
        XCTAssertEqual(Runner.run(try load("nested-close-kvm.svm"), variant: .zooB08).violation?.id, .kvmWarn(.freeNestedNotVmcb01))
        // The #VMEXIT that cannot map vmcb12 injects #GP and stays in L2 without 1b30e7551767 (zoo-B18),
        // which intercept-not-reflected reports.
        let gpa = Runner.run(try load("svm-nested-vmcb12-gpa-invalid.svm"), variant: .zooB18)
        XCTAssertEqual(gpa.violation?.id, .interceptNotReflected)
        XCTAssertEqual(gpa.expectFailures.map(\.wanted), ["exit=shutdown", "violation=none"])
    }
}
