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
    /// exit_code in guest memory of the vmcb12 the last VMRUN from L1 named: "-" before any, nil when
    /// that GPA was not page-aligned (the model keeps whole pages; the runner reads at GPA + 0x70).
    var vmcb12Exit: String?
    /// What KVM_GET_SREGS shows for CR3 on real KVM: after a KVM_RUN, with NPT and a root
    /// svm_leave_nested left stale, svm_handle_exit has read vmcb01's CR3 back at the runner's doorbell
    /// exit, which the model does not have; after an ioctl, the cache as it is.
    var cr3AfterExit: UInt64 = 0
    /// CR0 as the runner reads it: after an exit, with the bits the CPU owned read back.
    var cr0AfterExit: UInt64 = 0

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
    /// The exception KVM injected into the running level during this step, if any, else one VMRUN
    /// delivered into L2 from vmcb12's EVENTINJ (the runner's exception stub in L2 sees either).
    var exception: UInt8? {
        if let v = record.injected { return v }
        guard let d = record.delivered, d.eventInj & EventInj.typeMask == EventInj.typeExept else { return nil }
        return UInt8(d.eventInj & EventInj.vectorMask)
    }

    var ownersText: String {
        zip(RegisterOwners.names, owners).map { "\($0)=\($1)" }.joined(separator: " ")
    }
}

enum Observer {
    /// Runs the whole program (past violations, so later `expect` lines are checked) and records each step.
    static func run(_ program: Program, variant: Variant?) -> (RunReport, [StepObservation]) {
        run(program, config: program.config.vcpuConfig(variant: variant))
    }

    /// `asKernel` (the oracle): steps go on past an entry's violation, as KVM does.
    static func run(_ program: Program, config: VcpuConfig, asKernel: Bool = false) -> (RunReport, [StepObservation]) {
        let initial = Executor(config: config)
        var prevOwners = initial.vcpu.owners.visible(current: initial.vcpu.current)
        var steps: [StepObservation] = []
        steps.reserveCapacity(program.operations.count)
        var lastVmrun: UInt64? = nil
        // Whether the last thing that touched the vCPU was a KVM_RUN (the runner's doorbell exit syncs
        // CR3 and CR0) rather than an ioctl (which reads the cache as it is).
        var afterRun = false
        let report = Runner.run(program, config: config, asKernel: asKernel) { _, op, ex, record in
            if case .guest(.vmrun(let gpa)) = op, record.ran == .l1 { lastVmrun = gpa }
            switch op {
            case .guest, .emulate, .run, .smi, .initSignal:
                // Only a KVM_RUN that entered the guest and left it through an exit (the runner's
                // doorbell, a kick) read CR3 back; a shutdown at entry did not.
                afterRun = record.exit == nil || record.exit == .intr
            case .runWith(let req):
                // sync_regs' SREGS is an ioctl's write; only a run that went on to enter read CR3 back.
                if req.sregs != nil && record.ioctls.count > 0 { afterRun = false }
                if !req.immediateExit && record.ioctlResult != .einval {
                    afterRun = record.exit == nil || record.exit == .intr
                }
            case .setSregs, .setRegs, .setMsrs, .setNestedState, .setVcpuEvents, .snapshot, .restore, .reset, .destroy:
                afterRun = false
            default:
                break
            }
            let owners = record.visibleOwners
            steps.append(StepObservation(
                record: record, operation: op, text: OperationText.of(op), state: VcpuSnapshot(of: ex.vcpu),
                violation: ex.stepViolation, ownersChanged: owners != prevOwners,
                vmcb12Exit: vmcb12Exit(ex.vcpu, lastVmrun),
                cr3AfterExit: afterRun ? cr3AfterExit(ex.vcpu) : ex.vcpu.cr3,
                cr0AfterExit: afterRun ? ex.vcpu.cr0ReadBackAtExit : ex.vcpu.cr0))
            prevOwners = owners
        }
        for f in report.expectFailures where f.step >= 1 && f.step <= steps.count {
            steps[f.step - 1].expectFailures.append(f)
        }
        return (report, steps)
    }

    static func vmcb12Exit(_ v: Vcpu, _ gpa: UInt64?) -> String? {
        guard let gpa else { return "-" }
        guard gpa & 0xfff == 0 else { return nil }
        return v.readGuestVmcb(gpa).map { Output.hex($0.control.exitCode) } ?? "-"
    }

    static func cr3AfterExit(_ v: Vcpu) -> UInt64 {
        guard v.config.npt, v.mmuRootStale else { return v.cr3 }
        return v.current == .vmcb01 ? v.vmcb01.save.cr3 : v.vmcb02.save.cr3
    }
}
