// Invariant violations: each has a stable id that corpus files, tests and scripts refer to.

import SVMModel

public enum InvariantID: Hashable, Sendable, CustomStringConvertible {
    /// A guest instruction executes (or KVM_RUN enters) in L1 context while L2 owns a register.
    case l1RunsL2State
    /// Userspace stuffing state made a triple fault pending: a KVM_SET_SREGS/REGS/MSRS/NESTED_STATE
    /// raised one (only KVM_SET_VCPU_EVENTS may, when asked), or after a restore or reset whose
    /// ioctls all succeeded one is pending that the restored state did not have. A triple fault is
    /// a guest event; KVM must not synthesize one from state the VMM puts (Yosry, 2026-02-26).
    case spuriousTripleFault
    /// After a restore in a migration order whose ioctls all succeeded, GET_* differs from the snapshot.
    case restoreMismatch
    /// The state at a return to userspace cannot be migrated into a fresh vCPU.
    case unrestorableState
    /// A modeled WARN_ON fired.
    case kvmWarn(WarnSite)
    /// A structural rule of KVM's nested state broke.
    case inconsistentState(ConsistencyRule)
    /// GifChanged.swift: an instruction other than STGI/CLGI/VMRUN/#VMEXIT changed GIF.
    case gifChanged
    /// Vmcb12Unchecked.swift: in guest mode under vmcb12 controls VMRUN's checks refuse.
    case vmcb12Unchecked
    /// HsavePaRules.swift: a VM_HSAVE_PA rule of the APM / KVM broke.
    case hsavePaRules
    /// InterceptNotReflected.swift: an instruction intercepted by vmcb12 left the vCPU in L2.
    case interceptNotReflected
    /// IoctlAcceptsInvalid.swift: a SET ioctl accepted state the vCPU cannot have.
    case ioctlAcceptsInvalid
    /// VmrunOutcome.swift: VMRUN's outcome disagrees with the APM consistency checks, or VMRUN in L1 did nothing.
    case vmrunOutcome
    /// SmmL1State.swift: an SMI in L2 and RSM back into L2 changed L1's saved state.
    case smmL1State
    /// VmexitRestoresL1.swift: a #VMEXIT gave L1 other registers than its VMRUN saved.
    case vmexitRestoresL1
    /// ExitRouting.swift: L1 got a #VMEXIT it did not intercept, or an unintercepted L2 triple fault did not shut down.
    case exitRouting
    /// SvmInsnOutcome.swift: an SVM instruction raised other than the APM's exception conditions say.
    case svmInsnOutcome
    /// L2EntryOvertaken.swift: KVM made a #VMEXIT (or reset for INIT) between emulating an entry into L2 and making it.
    case l2EntryOvertaken
    /// RsmShutdown.swift: an RSM that failed left the vCPU in guest mode (its shutdown became L2's).
    case rsmShutdown
    /// KvmLivelock.swift: KVM_RUN never returned: KVM re-entered the guest forever without progress.
    case kvmLivelock

    public var description: String {
        switch self {
        case .kvmWarn(let s): return "\(family.rawValue):\(s.name)"
        case .inconsistentState(let r): return "\(family.rawValue):\(r.rawValue)"
        default: return family.rawValue
        }
    }

    /// The id family: the id without its `:<detail>` part.
    public var family: InvariantFamily {
        switch self {
        case .l1RunsL2State: return .l1RunsL2State
        case .spuriousTripleFault: return .spuriousTripleFault
        case .restoreMismatch: return .restoreMismatch
        case .unrestorableState: return .unrestorableState
        case .kvmWarn: return .kvmWarn
        case .inconsistentState: return .inconsistentState
        case .gifChanged: return .gifChanged
        case .vmcb12Unchecked: return .vmcb12Unchecked
        case .hsavePaRules: return .hsavePaRules
        case .interceptNotReflected: return .interceptNotReflected
        case .ioctlAcceptsInvalid: return .ioctlAcceptsInvalid
        case .vmrunOutcome: return .vmrunOutcome
        case .smmL1State: return .smmL1State
        case .vmexitRestoresL1: return .vmexitRestoresL1
        case .exitRouting: return .exitRouting
        case .svmInsnOutcome: return .svmInsnOutcome
        case .l2EntryOvertaken: return .l2EntryOvertaken
        case .rsmShutdown: return .rsmShutdown
        case .kvmLivelock: return .kvmLivelock
        }
    }

    /// The ids that are their family.
    static let withoutDetail: [InvariantID] = [
        .l1RunsL2State, .spuriousTripleFault, .restoreMismatch, .unrestorableState, .gifChanged, .vmcb12Unchecked,
        .hsavePaRules, .interceptNotReflected, .ioctlAcceptsInvalid, .vmrunOutcome, .smmL1State, .vmexitRestoresL1,
        .exitRouting, .svmInsnOutcome, .l2EntryOvertaken, .rsmShutdown, .kvmLivelock,
    ]

    /// Parses an id as `description` prints it.
    public init?(_ text: Substring) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let family = InvariantFamily(rawValue: String(parts[0])) else { return nil }
        let detail = parts.count > 1 ? String(parts[1]) : nil
        switch family {
        case .kvmWarn:
            guard let d = detail, let site = WarnSite.allCases.first(where: { $0.name == d }) else { return nil }
            self = .kvmWarn(site)
        case .inconsistentState:
            guard let d = detail, let rule = ConsistencyRule(rawValue: d) else { return nil }
            self = .inconsistentState(rule)
        default:
            guard detail == nil, let id = InvariantID.withoutDetail.first(where: { $0.family == family }) else { return nil }
            self = id
        }
    }
}

/// The invariant ids without their detail: what `expect violation=` and known issues may name to
/// match every id of a family.
public enum InvariantFamily: String, CaseIterable, Hashable, Sendable {
    case l1RunsL2State = "l1-runs-l2-state"
    case spuriousTripleFault = "spurious-triple-fault"
    case restoreMismatch = "restore-mismatch"
    case unrestorableState = "unrestorable-state"
    case kvmWarn = "kvm-warn"
    case inconsistentState = "inconsistent-state"
    case gifChanged = "gif-changed"
    case vmcb12Unchecked = "vmcb12-unchecked"
    case hsavePaRules = "hsave-pa-rules"
    case interceptNotReflected = "intercept-not-reflected"
    case ioctlAcceptsInvalid = "ioctl-accepts-invalid"
    case vmrunOutcome = "vmrun-outcome"
    case smmL1State = "smm-l1-state"
    case vmexitRestoresL1 = "vmexit-restores-l1"
    case exitRouting = "exit-routing"
    case svmInsnOutcome = "svm-insn-outcome"
    case l2EntryOvertaken = "l2-entry-overtaken"
    case rsmShutdown = "rsm-shutdown"
    case kvmLivelock = "kvm-livelock"
}

/// A short stable token saying which way an invariant failed, for telling findings apart.
public enum ViolationReason: Hashable, Sendable, CustomStringConvertible {
    /// Migrating the state failed at this ioctl (by this rule, when a named check refused it).
    case refused(IoctlKind, Refusal?)
    /// The migrated vCPU's next entry differs in this field.
    case nextEntry(NextEntryField)
    /// A #VMEXIT restored this L1 register with another value than VMRUN saved.
    case restored(L1Register)
    /// Userspace's state reached KVM through KVM_RUN's sync_regs, not a SET ioctl (issue 14 §1).
    case syncRegs
    /// Where a failed RSM into L2 stopped (RsmShutdown.swift).
    case rsm(RsmFailure)

    static let syncRegsToken = "KVM_RUN:sync_regs"

    public var description: String {
        switch self {
        case .refused(let k, let r): return r.map { "\(k):\($0)" } ?? k.description
        case .nextEntry(let f): return "next-entry:\(f.rawValue)"
        case .restored(let r): return "restored:\(r.rawValue)"
        case .syncRegs: return ViolationReason.syncRegsToken
        case .rsm(let f): return "rsm:\(f.rawValue)"
        }
    }

    /// Parses a reason as `description` prints it.
    public init?(_ text: Substring) {
        if text == ViolationReason.syncRegsToken {
            self = .syncRegs
            return
        }
        if text.hasPrefix("restored:") {
            guard let r = L1Register(rawValue: String(text.dropFirst("restored:".count))) else { return nil }
            self = .restored(r)
            return
        }
        if text.hasPrefix("rsm:") {
            guard let f = RsmFailure(rawValue: String(text.dropFirst("rsm:".count))) else { return nil }
            self = .rsm(f)
            return
        }
        if text.hasPrefix("next-entry:") {
            guard let f = NextEntryField(rawValue: String(text.dropFirst("next-entry:".count))) else { return nil }
            self = .nextEntry(f)
            return
        }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let kinds: [IoctlKind] = [.setSregs, .setRegs, .setMsrs, .setNestedState, .setVcpuEvents]
        guard let kind = kinds.first(where: { $0.description == parts[0] }) else { return nil }
        guard parts.count > 1 else { self = .refused(kind, nil); return }
        let rule = String(parts[1])
        switch kind {
        case .setSregs:
            guard let r = SregsRefusal(rawValue: rule) else { return nil }
            self = .refused(kind, .sregs(r))
        case .setNestedState:
            guard let r = NestedStateRefusal(rawValue: rule) else { return nil }
            self = .refused(kind, .nestedState(r))
        case .setVcpuEvents:
            guard let r = VcpuEventsRefusal(rawValue: rule) else { return nil }
            self = .refused(kind, .vcpuEvents(r))
        default:
            return nil
        }
    }
}

/// What a step record carries of its violation: fixed-size, enough to match known issues and
/// expectations without building the message.
public struct ViolationCode: Hashable, Sendable, CustomStringConvertible {
    public var id: InvariantID
    public var reason: ViolationReason?
    public init(id: InvariantID, reason: ViolationReason? = nil) { self.id = id; self.reason = reason }

    /// `<id>` or `<id> <reason>`: what corpus/known-issues.txt lists.
    public var description: String { reason.map { "\(id) \($0)" } ?? id.description }
}

public struct Violation: Hashable, Sendable, CustomStringConvertible {
    public var id: InvariantID
    /// 1-based index of the operation after which it was seen.
    public var step: Int
    /// Source line of that operation (0 when unknown).
    public var line: Int
    public var detail: String
    /// Which way the invariant failed (e.g. the refused ioctl and its rule); nil when the id says it all.
    public var reason: ViolationReason?

    /// What a step record keeps of it; also its signature in known issues and the minimizer.
    public var code: ViolationCode { ViolationCode(id: id, reason: reason) }

    public var description: String {
        "VIOLATION \(id) at step \(step)\(line > 0 ? " (line \(line))" : ""): \(detail)"
    }
}
