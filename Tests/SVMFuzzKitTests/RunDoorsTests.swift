import XCTest
@testable import SVMFuzzKit
import SVMModel

/// `run immediate_exit` and `run sync_regs/sync_sregs/sync_events` (issue 14 §1): the language, the
/// codec, the mutator, the minimizer and the plan; then what the executor and the invariants make of
/// them on each series variant.
final class RunDoorsTests: XCTestCase {
    private func parse(_ text: String) throws -> Program { try SVMText.parse(text, file: "t.svm") }
    private func op(_ line: String) throws -> SVMFuzzKit.Operation { try XCTUnwrap(parse(line).operations.first) }

    // MARK: - Language, codec, mutator, minimizer, plan

    func testTextRoundTripsInKvmOrder() throws {
        let req = RunRequest(immediateExit: true, regs: RegsPatch(rip: 0x4000), sregs: SregsPatch(efer: 0xd01, cr3: 0x3000),
                             events: EventsPatch(smm: false, tripleFault: true))
        let line = "run immediate_exit sync_regs rip=0x4000 sync_sregs efer=0xd01 cr3=0x3000 sync_events smm=0 triple_fault=1"
        XCTAssertEqual(SVMText.line(.runWith(req)), line)
        XCTAssertEqual(try op(line), .runWith(req))
        // Any block order parses; an empty block is a block (all of KVM_GET_*'s values put back).
        XCTAssertEqual(try op("run sync_events triple_fault=1 smm=0 immediate_exit sync_sregs cr3=0x3000 efer=0xd01 sync_regs rip=0x4000"),
                       .runWith(req))
        XCTAssertEqual(try op("run sync_sregs"), .runWith(RunRequest(sregs: SregsPatch())))
        XCTAssertEqual(SVMText.line(.runWith(RunRequest(sregs: SregsPatch()))), "run sync_sregs")
        XCTAssertEqual(try op("run"), .run, "a plain run stays the plain operation")
        XCTAssertEqual(RunRequest().operation, .run)
    }

    func testTextErrorsNameTheLineAndWhatWasExpected() {
        let cases: [(String, String)] = [
            ("run efer=0xd01", "expected immediate_exit, sync_regs, sync_sregs or sync_events after 'run', got 'efer=0xd01'"),
            ("run immediate_exit immediate_exit", "duplicate 'immediate_exit' for run"),
            ("run sync_sregs efer=1 sync_sregs cr0=1", "duplicate 'sync_sregs' for run"),
            ("run sync_sregs rip=0x1000", "unknown field 'rip' for sync_sregs (expected efer, cr0, cr2, cr3, cr4)"),
            ("run sync_events smm=2", "expected 0 or 1 after 'smm=', got '2'"),
            ("run immediate_exit rip=1", "expected immediate_exit, sync_regs, sync_sregs or sync_events after 'run', got 'rip=1'"),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try parse("\n" + text)) { e in
                XCTAssertEqual(e as? ParseError, ParseError(file: "t.svm", line: 2, message: message), text)
            }
        }
    }

    func testBytes() throws {
        let doors = OperationDescriptions.runDoorsOpcode.first
        let ie = try op("run immediate_exit sync_sregs efer=0xd01")
        let bytes = ByteCodec.encode(Program(operations: [ie]))
        XCTAssertEqual(bytes[0], doors)
        XCTAssertEqual(bytes[1], 1 | 2, "immediate_exit and the SREGS block")
        XCTAssertEqual(ByteCodec.decode(bytes).operations, [ie])
        XCTAssertEqual(ByteCodec.encode(Program(operations: [.run])), [0xa5], "plain run keeps its byte")
        // Every payload of the doors' opcodes decodes to a run with a door (0: immediate_exit alone),
        // and re-encodes to the same operation.
        for first in OperationDescriptions.runDoorsOpcode.bytes {
            for f in 0..<256 {
                let p = ByteCodec.decode([UInt8(first), UInt8(f), 1, 1, 1, 1, 1, 1, 1])
                guard case .runWith(let req) = p.operations.first else { return XCTFail("\(first) \(f): \(p.operations)") }
                XCTAssertFalse(req.isPlain)
                XCTAssertEqual(ByteCodec.decode(ByteCodec.encode(p)).operations.first, p.operations.first)
            }
        }
        XCTAssertEqual(ByteCodec.decode([doors, 0]).operations, [.runWith(RunRequest(immediateExit: true))])
        XCTAssertEqual(ByteCodec.decode([doors, 4, 0x08, 1]).operations, [.runWith(RunRequest(events: EventsPatch(tripleFault: true)))])
    }

    func testMutatorReachesEveryDoorFromAPlainRun() {
        var rng = MutatorRng(fuzzerSeed: 11)
        var seen: Set<String> = []
        for _ in 0..<400 {
            var o = SVMFuzzKit.Operation.run
            for _ in 0..<3 { o = OperationTweak.tweak(o, &rng) }
            let r = o.runRequest
            if r.immediateExit { seen.insert("immediate_exit") }
            if r.regs != nil { seen.insert("regs") }
            if r.sregs != nil { seen.insert("sregs") }
            if r.events != nil { seen.insert("events") }
        }
        XCTAssertEqual(seen, ["immediate_exit", "regs", "sregs", "events"])
    }

    func testMinimizerDropsDoorsAndFields() throws {
        let o = try op("run immediate_exit sync_sregs efer=0xd01 cr0=0x80050033")
        let smaller = Minimizer.simplifications(of: o).map(SVMText.line)
        XCTAssertEqual(smaller, ["run sync_sregs efer=0xd01 cr0=0x80050033", "run immediate_exit",
                                 "run immediate_exit sync_sregs cr0=0x80050033", "run immediate_exit sync_sregs efer=0xd01"])
        XCTAssertEqual(Minimizer.simplifications(of: try op("run immediate_exit")), [.run])
    }

    func testPlanStep() throws {
        XCTAssertEqual(KvmPlan.step(.run), "run")
        XCTAssertEqual(KvmPlan.step(try op("run immediate_exit")), "run immediate_exit=1")
        XCTAssertEqual(KvmPlan.step(try op("run sync_regs rip=0x4000 sync_sregs efer=0xd01 sync_events triple_fault=0")),
                       "run sync=regs,sregs,events rip=0x4000 efer=0xd01 triple_fault=0x0")
        // A CR3 only a sync block loads still gets its page-table root.
        let plan = KvmPlan.lower(try parse("run sync_sregs cr3=0x5000\n"), name: "t.svm")
        XCTAssertTrue(plan.contains("\ncr3 0x5000\n"), plan)
    }

    // MARK: - Executor and invariants

    private let enterL2 = """
        wrmsr efer 0x1d01
        wrmsr hsave_pa 0x40000
        vmcb 0x10000 intercepts=vmrun,vmmcall
        vmrun 0x10000

        """

    private func run(_ text: String, _ variant: Variant) throws -> RunReport {
        Runner.run(try parse(text), variant: variant)
    }

    /// sync_sregs clearing EFER.SVME in L2 is userspace stuffing, like KVM_SET_SREGS. The merged rule
    /// (is_guest_mode && wants_to_run) sees wants_to_run set inside KVM_RUN and shuts the VM down: a
    /// spurious triple fault, which immediate_exit avoids. v2 triple-faults either way, as on
    /// KVM_SET_SREGS; v1 keeps L2 running without SVME.
    func testSyncedSvmeClearInL2OnEverySeriesVariant() throws {
        let want: [Variant: (String?, String?)] = [
            .prefix: (nil, nil),
            .v1IgnoreInGuest: ("inconsistent-state:guest-mode-svme", "inconsistent-state:guest-mode-svme"),
            .v2SetEfer: ("spurious-triple-fault", "spurious-triple-fault"),
            .msrHook: (nil, nil),
            .merged: ("spurious-triple-fault", nil),
        ]
        for variant in Variant.series {
            for ie in [false, true] {
                let text = enterL2 + "run \(ie ? "immediate_exit " : "")sync_sregs efer=0xd01\n"
                let r = try run(text, variant)
                let expected = ie ? want[variant]!.1 : want[variant]!.0
                XCTAssertEqual(r.violation?.id.description, expected, "\(variant) immediate_exit=\(ie): \(String(describing: r.violation))")
                if r.violation?.id == .spuriousTripleFault {
                    XCTAssertEqual(r.violation?.reason, .syncRegs)
                    XCTAssertEqual(r.lastExit, ie ? .intr : .shutdown)
                }
            }
            // KVM_SET_SREGS with the same EFER: merged is clean there, the others as with immediate_exit.
            let viaIoctl = try run(enterL2 + "set_sregs efer=0xd01\n", variant)
            XCTAssertEqual(viaIoctl.violation?.id.description, want[variant]!.1, "\(variant) set_sregs")
        }
        // A known-issues line can name the sync_regs door alone, so that v2's KVM_SET_SREGS finding stays found.
        let pattern = try XCTUnwrap(ViolationPattern("spurious-triple-fault KVM_RUN:sync_regs"))
        XCTAssertTrue(pattern.matches(ViolationCode(id: .spuriousTripleFault, reason: .syncRegs)))
        XCTAssertFalse(pattern.matches(ViolationCode(id: .spuriousTripleFault)))
    }

    /// immediate_exit: KVM_RUN returns (exit intr, ioctl ok) without entering: a pending triple fault
    /// and a pending signal wait for the next KVM_RUN, and the vCPU stays where it was. That KVM_RUN
    /// services the triple fault before the signal cancels an entry (vcpu_enter_guest's requests come
    /// before kvm_vcpu_exit_request): KVM_EXIT_SHUTDOWN, and the signal, blocked again outside KVM_RUN,
    /// ends the next one.
    func testImmediateExitEntersNothing() throws {
        let r = try run("""
            set_vcpu_events triple_fault=1
            run immediate_exit
            expect exit=intr triple_fault=1 mode=l1 ioctl=ok
            signal
            run immediate_exit
            expect exit=intr triple_fault=1
            run
            expect exit=shutdown triple_fault=0
            reset
            run
            expect exit=intr
            """, .merged)
        XCTAssertTrue(r.isClean, "\(r.expectFailures) \(String(describing: r.violation))")
    }

    /// A refused sync block: KVM_RUN fails with -EINVAL before entering; the REGS block before it was
    /// applied; the VMM goes on (its own stuffing was refused, as with a failed KVM_SET_SREGS).
    func testRefusedSyncBlockFailsKvmRunBeforeEntry() throws {
        let p = try parse("""
            run sync_regs rip=0x5000 sync_sregs efer=0x400
            expect ioctl=einval mode=l1 efer=0xd01
            wrmsr efer 0x1d01
            expect mode=l1 efer=0x1d01
            """)
        var records: [StepRecord] = []
        let r = Runner.run(p, variant: .merged) { _, _, _, rec in records.append(rec) }
        XCTAssertTrue(r.isClean, "\(r.expectFailures) \(String(describing: r.violation))")
        XCTAssertEqual(records[0].exit, ExitReason.none)
        XCTAssertEqual(records[0].ioctls.count, 2)
        XCTAssertEqual(records[0].ioctls[1].refusal, .sregs(.eferLma))
        XCTAssertEqual(records[2].ran, .l1, "the guest still runs")
        XCTAssertEqual(r.finalState.vcpu.rip, 0x5002, "REGS was applied before SREGS was refused")
    }

    /// ioctl-accepts-invalid judges the SREGS block as it judges KVM_SET_SREGS (zoo-B28: KVM without
    /// 184bd464bdb6 accepts an EFER the guest's CPUID cannot have).
    func testIoctlAcceptsInvalidThroughSync() throws {
        let text = "config svm=0\nrun sync_sregs efer=0x1d01\n"
        let bug = try run(text, .zooB28)
        XCTAssertEqual(bug.violation?.id, .ioctlAcceptsInvalid)
        XCTAssertEqual(bug.violation?.reason, .syncRegs)
        XCTAssertNil(try run(text, .merged).violation, "merged refuses it")
    }

    /// After a shutdown the VMM runs again only once it has put all registers: a sync with REGS and
    /// SREGS does, a sync of one of them is skipped like a plain run.
    func testHaltedVcpuRunsAgainOnlyWithRegsAndSregsSynced() throws {
        let p = try parse("""
            triple_fault
            run sync_sregs efer=0xd01
            run sync_regs rip=0x1000 sync_sregs efer=0xd01 cr0=0x80050033 cr3=0x1000 cr4=0x20
            wrmsr efer 0x1d01
            """)
        var records: [StepRecord] = []
        _ = Runner.run(p, variant: .merged) { _, _, _, rec in records.append(rec) }
        XCTAssertEqual(records[0].exit, .shutdown)
        XCTAssertEqual(records[1].ran, .skipped)
        XCTAssertEqual(records[2].skip, nil)
        XCTAssertEqual(records[2].ioctlResult, .ok, "the shutdown's reset state took L1's registers back")
        XCTAssertEqual(records[3].ran, .l1)
    }

    /// The state after a sync is stuffed, not guest-reachable: unrestorable-state is not judged on it.
    func testSyncMakesTheStateNotGuestReachable() throws {
        var ex = Executor(config: VcpuConfig())
        ex.execute(try op("run immediate_exit"))
        XCTAssertTrue(ex.guestReachable)
        ex.execute(try op("run immediate_exit sync_regs rip=0x2000"))
        XCTAssertFalse(ex.guestReachable)
    }
}
