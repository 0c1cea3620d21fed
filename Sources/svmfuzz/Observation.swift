// One step of a run seen from outside: its StepRecord, plus what userspace could read afterwards
// (the KVM_GET_* snapshot and vmcb12's exit_code in guest memory). The trace rows of
// `replay --trace`, the JSON lines, `diff` and the real-KVM comparison are views of this.

import SVMFuzzKit
import SVMModel

struct StepObservation {
    var record: StepRecord
    var operation: Operation
    var text: String
    /// What KVM_GET_* would return after the step.
    var state: VcpuSnapshot
    /// The step's violation with its message.
    var violation: Violation?
    var expectFailures: [ExpectFailure] = []
    var ownersChanged: Bool
    /// exit_code in guest memory of the vmcb12 the last VMRUN from L1 named (nil before any).
    var vmcb12Exit: UInt64?

    /// 1-based.
    var step: Int { record.step }
    /// Source line (0: unknown, e.g. a byte input).
    var line: Int { record.line }
    var ran: String { record.ran.description }
    var skipped: Bool { record.ran == .skipped }
    var exit: ExitReason? { record.exit }
    var ioctl: Errno? { record.shownIoctl }
    var mode: Mode { record.mode }
    var gif: Bool { record.gif }
    var efer: UInt64 { state.sregs.efer }
    var requests: [String] { record.requests.names }
    /// The owners of the registers the running context sees (RegisterOwners.names order).
    var owners: [Owner] { record.visibleOwners }
    /// The exception KVM injected into the running level during this step, if any.
    var exception: UInt8? { record.injected }

    var ownersText: String {
        zip(RegisterOwners.names, owners).map { "\($0)=\($1)" }.joined(separator: " ")
    }
}

enum Observer {
    /// Runs the whole program (past violations, so later `expect` lines are checked) and records each step.
    static func run(_ program: Program, variant: Variant?) -> (RunReport, [StepObservation]) {
        run(program, config: program.config.vcpuConfig(variant: variant))
    }

    static func run(_ program: Program, config: VcpuConfig) -> (RunReport, [StepObservation]) {
        let initial = Executor(config: config)
        var prevOwners = initial.vcpu.owners.visible(current: initial.vcpu.current)
        var steps: [StepObservation] = []
        steps.reserveCapacity(program.operations.count)
        var lastVmrun: UInt64? = nil
        let report = Runner.run(program, config: config) { _, op, ex, record in
            if case .guest(.vmrun(let gpa)) = op, record.ran == .l1 { lastVmrun = gpa }
            let owners = record.visibleOwners
            steps.append(StepObservation(
                record: record, operation: op, text: OperationText.of(op), state: VcpuSnapshot(of: ex.vcpu),
                violation: ex.stepViolation, ownersChanged: owners != prevOwners,
                vmcb12Exit: lastVmrun.flatMap { ex.vcpu.readGuestVmcb($0)?.control.exitCode }))
            prevOwners = owners
        }
        for f in report.expectFailures where f.step >= 1 && f.step <= steps.count {
            steps[f.step - 1].expectFailures.append(f)
        }
        return (report, steps)
    }
}
