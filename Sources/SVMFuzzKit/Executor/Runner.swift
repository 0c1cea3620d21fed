// Running a whole program: the executor plus `expect` checking, for replay, tests and the minimizer.

import SVMModel

public struct ExpectFailure: Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var step: Int
    public var wanted: String
    public var got: String
    public var description: String { "EXPECT FAILED line \(line): wanted \(wanted), got \(got)" }
}

public struct RunReport: Sendable {
    public var violation: Violation?
    public var expectFailures: [ExpectFailure]
    public var steps: Int
    public var finalState: Executor
    /// The last exit to userspace (none before the first).
    public var lastExit: ExitReason
    /// The record of the last step executed.
    public var lastRecord: StepRecord?

    /// Clean: no violation and every expect held.
    public var isClean: Bool { violation == nil && expectFailures.isEmpty }
}

/// What `expect` reads that outlives a step: the last exit and the last ioctl result, folded from the
/// step records; the exception the last operation (not an expect) showed the guest; the GPA of the last
/// VMRUN L1 executed (whose vmcb12 holds the exit L1 reads).
struct LastResults {
    var exit: ExitReason = .none
    var ioctl: Errno = .ok
    var exception: UInt8? = nil
    var vmrun: UInt64? = nil

    mutating func fold(_ op: Operation, _ r: StepRecord) {
        if let e = r.exit { exit = e }
        if let i = r.ioctlResult { ioctl = i }
        if case .expect = op { return }
        exception = r.injected
        if case .guest(.vmrun(let gpa)) = op, r.ran == .l1 { vmrun = gpa }
    }
}

public enum Runner {
    public typealias Observe = (_ index: Int, _ op: Operation, _ state: Executor, _ record: StepRecord) -> Void

    /// Runs `program` from the initial L1 state. `variant` overrides the program's config line.
    /// `observe` sees every step (for traces); `stopAtFirstViolation` ends the run there (fuzzing,
    /// minimizing).
    public static func run(_ program: Program, variant: Variant? = nil, stopAtFirstViolation: Bool = false,
                           observe: Observe? = nil) -> RunReport {
        run(program, config: program.config.vcpuConfig(variant: variant), stopAtFirstViolation: stopAtFirstViolation,
            observe: observe)
    }

    /// Runs `program` on a vCPU created with exactly `config` (the program's config line is ignored).
    /// `asKernel`: played as the real-KVM runner plays it: an entry that violates an invariant does not
    /// end its step (Executor.stopsStepAtViolation), and the VMM reads the state after every step
    /// (Executor.readsStateAtEveryStep).
    public static func run(_ program: Program, config: VcpuConfig, stopAtFirstViolation: Bool = false,
                           asKernel: Bool = false, observe: Observe? = nil) -> RunReport {
        var ex = Executor(config: config)
        ex.stopsStepAtViolation = !asKernel
        ex.readsStateAtEveryStep = asKernel
        var failures: [ExpectFailure] = []
        var last = LastResults()
        var lastRecord: StepRecord? = nil
        for (i, op) in program.operations.enumerated() {
            let line = i < program.lines.count ? program.lines[i] : 0
            if case .expect(let e) = op { failures += check(e, ex, last, line: line, step: i + 1) }
            let r = ex.execute(op, line: line)
            last.fold(op, r)
            lastRecord = r
            observe?(i, op, ex, r)
            if stopAtFirstViolation && ex.firstViolation != nil { break }
        }
        return RunReport(violation: ex.firstViolation, expectFailures: failures, steps: ex.step, finalState: ex,
                         lastExit: last.exit, lastRecord: lastRecord)
    }

    /// Checks each field of an `expect` line against the state after the previous operation.
    static func check(_ e: Expectation, _ ex: Executor, _ last: LastResults, line: Int, step: Int) -> [ExpectFailure] {
        var out: [ExpectFailure] = []
        func fail(_ field: String, _ wanted: String, _ got: String) {
            out.append(ExpectFailure(line: line, step: step, wanted: "\(field)=\(wanted)", got: "\(field)=\(got)"))
        }
        let v = ex.vcpu
        if let w = e.exit, w != last.exit { fail("exit", w.description, last.exit.description) }
        if let w = e.mode, w != v.mode { fail("mode", w.description, v.mode.description) }
        if let w = e.gif, w != v.gif { fail("gif", w ? "1" : "0", v.gif ? "1" : "0") }
        if let w = e.efer, w != v.efer { fail("efer", hex(w), hex(v.efer)) }
        if let w = e.ioctl, w != last.ioctl { fail("ioctl", w.description, last.ioctl.description) }
        if let w = e.tripleFault {
            let got = v.requests.contains(.tripleFault)
            if w != got { fail("triple_fault", w ? "1" : "0", got ? "1" : "0") }
        }
        if let w = e.violation, !w.matches(ex.firstViolation?.code) {
            fail("violation", w.description, ex.firstViolation.map { $0.id.description } ?? "none")
        }
        if e.exitCode != nil || e.exitInfo1 != nil {
            // As L1 reads them: the vmcb12 page its last VMRUN named (none before any, or unbacked).
            let vmcb12 = last.vmrun.flatMap { v.readGuestVmcb($0) }
            for (key, want, got) in [("exit_code", e.exitCode, vmcb12?.control.exitCode),
                                     ("exit_info1", e.exitInfo1, vmcb12?.control.exitInfo1)] {
                if let want, want != got { fail(key, hex(want), got.map(hex) ?? "none (no vmcb12 read)") }
            }
        }
        if let w = e.exception, w != ExpectedException(last.exception) {
            fail("exception", w.description, ExpectedException(last.exception).description)
        }
        for (key, want, got) in [("rip", e.rip, v.rip), ("rsp", e.rsp, v.rsp), ("rax", e.rax, v.rax), ("rflags", e.rflags, v.rflags)] {
            if let want, want != got { fail(key, hex(want), hex(got)) }
        }
        return out
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
}
