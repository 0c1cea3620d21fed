// What one step of a run looked like from outside: the trace rows of `replay --trace` and what `diff`
// compares.

import SVMFuzzKit
import SVMModel

struct StepObservation {
    /// 1-based.
    var step: Int
    /// Source line (0: unknown, e.g. a byte input).
    var line: Int
    var operation: Operation
    var text: String
    /// Who ran it: l1, l2, smm (a guest instruction), userspace (an ioctl or a guest-memory write),
    /// platform (smi, init), skipped (after a shutdown), none (KVM_RUN left before the instruction
    /// ran), expect.
    var ran: String
    /// The exit reason when KVM_RUN returned to userspace during this step.
    var exit: ExitReason?
    /// The result of the ioctl this step issued (nil: it issued none).
    var ioctl: Errno?
    var mode: Mode
    var gif: Bool
    var efer: UInt64
    var requests: [String]
    /// The owners of the registers the running context sees (RegisterOwners.names order).
    var owners: [Owner]
    var ownersChanged: Bool
    /// What KVM_GET_* would return now.
    var state: VcpuSnapshot
    var violation: Violation?
    var expectFailures: [ExpectFailure] = []
    /// The exception KVM injected into the running level during this step, if any.
    var exception: UInt8?
    /// exit_code in guest memory of the vmcb12 the last VMRUN from L1 named: "-" before any, nil when
    /// that GPA was not page-aligned (the model keeps whole pages; the runner reads at GPA + 0x70).
    var vmcb12Exit: String?
    /// What KVM_GET_SREGS shows for CR3 on real KVM: after a KVM_RUN, with NPT and a root
    /// svm_leave_nested left stale, svm_handle_exit has read vmcb01's CR3 back at the runner's doorbell
    /// exit, which the model does not have; after an ioctl, the cache as it is.
    var cr3AfterExit: UInt64 = 0

    var skipped: Bool { ran == "skipped" }

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
        var prev = initial
        var prevOwners = initial.vcpu.owners.visible(current: initial.vcpu.current)
        var steps: [StepObservation] = []
        steps.reserveCapacity(program.operations.count)
        var lastVmrun: UInt64? = nil
        // Whether the last thing that touched the vCPU was a KVM_RUN (the runner's doorbell exit syncs
        // CR3) rather than an ioctl (which reads the cache as it is).
        var afterRun = false
        let report = Runner.run(program, config: config) { index, op, ex, violation in
            let owners = ex.vcpu.owners.visible(current: ex.vcpu.current)
            let line = index < program.lines.count ? program.lines[index] : 0
            let ranAt = ran(op, ex)
            if case .guest(.vmrun(let gpa)) = op, ranAt == "l1" { lastVmrun = gpa }
            switch op {
            case .guest, .run, .smi, .initSignal:
                // Only a KVM_RUN that entered the guest and left it through an exit (the runner's
                // doorbell, a kick) read CR3 back; a shutdown at entry did not.
                let exit = exited(op, prev, ex)
                afterRun = exit == nil || exit == .intr
            case .setSregs, .setRegs, .setMsrs, .setNestedState, .setVcpuEvents, .snapshot, .restore, .reset: afterRun = false
            default: break
            }
            steps.append(StepObservation(
                step: index + 1, line: line, operation: op, text: OperationText.of(op),
                ran: ranAt, exit: exited(op, prev, ex), ioctl: ioctl(op, prev, ex, violation),
                mode: ex.vcpu.mode, gif: ex.vcpu.gif, efer: ex.vcpu.efer, requests: ex.vcpu.requests.names,
                owners: owners, ownersChanged: owners != prevOwners, state: VcpuSnapshot(of: ex.vcpu),
                violation: violation,
                exception: op.isGuestInstruction && !ex.lastSkipped ? ex.vcpu.lastInjected : nil,
                vmcb12Exit: vmcb12Exit(ex.vcpu, lastVmrun),
                cr3AfterExit: afterRun ? cr3AfterExit(ex.vcpu) : ex.vcpu.cr3))
            prev = ex
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
        return v.readGuestVmcb(gpa).map { "0x" + String($0.control.exitCode, radix: 16) } ?? "-"
    }

    static func cr3AfterExit(_ v: Vcpu) -> UInt64 {
        guard v.config.npt, v.mmuRootStale else { return v.cr3 }
        return v.current == .vmcb01 ? v.vmcb01.save.cr3 : v.vmcb02.save.cr3
    }

    static func ran(_ op: Operation, _ ex: Executor) -> String {
        switch op {
        case .guest:
            if ex.lastSkipped { return "skipped" }
            return ex.lastRanAt?.description ?? "none"
        case .run:
            return ex.lastSkipped ? "skipped" : "userspace"
        case .smi, .initSignal, .signal:
            return "platform"
        case .expect:
            return "expect"
        default:
            return "userspace"
        }
    }

    /// Whether KVM_RUN returned to userspace during this step, and why.
    static func exited(_ op: Operation, _ prev: Executor, _ ex: Executor) -> ExitReason? {
        if ex.lastSkipped || ex.inRun { return nil }
        switch op {
        case .guest, .run:
            return ex.lastExit                       // it entered (or was already in) KVM_RUN and left
        default:
            return prev.inRun ? ex.lastExit : nil    // userspace interrupted the run, or an SMI/INIT exited
        }
    }

    /// The result of the ioctl the step issued, if it issued one.
    static func ioctl(_ op: Operation, _ prev: Executor, _ ex: Executor, _ violation: Violation?) -> Errno? {
        switch op {
        case .setSregs, .setRegs, .setMsrs, .setNestedState, .setVcpuEvents, .snapshot, .restore, .reset:
            // The executor leaves KVM_RUN first; when that return to userspace already violates
            // unrestorable-state (the only invariant checked there) the ioctl is not issued.
            if prev.inRun, let v = violation, v.id == .unrestorableState { return nil }
            return ex.lastIoctl
        case .guest, .run, .smi, .initSignal:
            guard let reason = exited(op, prev, ex) else { return nil }
            // KVM_RUN returns 0 with an exit reason, or an errno (reason none).
            return reason == .none ? ex.lastIoctl : .ok
        default:
            return nil
        }
    }
}
