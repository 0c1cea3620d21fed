// One vCPU of one VM: struct kvm_vcpu_arch + struct vcpu_svm, reduced to nested SVM state
// (reference §1 and §12.1). A value type: copying a vCPU is a snapshot of everything.

/// L1's state as an SMI in L2 saved it and as the RSM back into L2 reloaded it.
public struct SmmL1Record: Hashable, Sendable {
    /// nil when the SMI was not taken in L2 (SMM code made SMRAM say "return to a guest").
    public var atSmi: VmcbSave?
    public var atRsm: VmcbSave
}

/// L1's architectural registers as a VMRUN saved them and as the matching #VMEXIT handed them back.
public struct L1Registers: Hashable, Sendable {
    public var efer: UInt64, cr0: UInt64, cr3: UInt64, cr4: UInt64
    public var rflags: UInt64, rip: UInt64, rsp: UInt64, rax: UInt64

    /// The register names and values, in a fixed order (for messages and reason tokens).
    public var fields: [(String, UInt64)] {
        [("efer", efer), ("cr0", cr0), ("cr3", cr3), ("cr4", cr4), ("rflags", rflags), ("rip", rip), ("rsp", rsp), ("rax", rax)]
    }
}

/// The first #VMEXIT that gave L1 registers other than those its VMRUN saved.
public struct L1RestoreRecord: Hashable, Sendable {
    public var atVmrun: L1Registers
    public var afterVmexit: L1Registers
}

/// An event VMRUN delivered to the guest from EVENTINJ, with the return address it pushed.
public struct DeliveredEvent: Hashable, Sendable {
    public var eventInj: UInt32
    /// The RIP pushed on the guest stack: NextRIP for software interrupts (the CPU has NRIPS),
    /// the guest RIP otherwise.
    public var returnRip: UInt64
    public init(eventInj: UInt32, returnRip: UInt64) { self.eventInj = eventInj; self.returnRip = returnRip }
}

/// A nested #VMEXIT KVM made, as the exit-routing check reads it: the exit code written to vmcb12 and
/// the vmcb12 controls in force when it was made (svm->nested.ctl: intercepts, MSR permission map).
public struct NestedVmexitFact: Hashable, Sendable {
    public var exitCode: UInt64
    public var intercepts: InterceptSet
    public var msrpmBasePa: UInt64
    public init(exitCode: UInt64, intercepts: InterceptSet, msrpmBasePa: UInt64) {
        self.exitCode = exitCode; self.intercepts = intercepts; self.msrpmBasePa = msrpmBasePa
    }
}

/// The nested #VMEXITs of the current operation in order: the first `capacity` of them, and how many
/// there were. Fixed-size, so that recording one never allocates.
public struct NestedVmexits: Equatable, Sendable {
    public static let capacity = 2
    private var storage: InlineArray<2, NestedVmexitFact> =
        .init(repeating: NestedVmexitFact(exitCode: 0, intercepts: InterceptSet(), msrpmBasePa: 0))
    public private(set) var count = 0
    public init() {}

    @inline(__always) mutating func append(_ f: NestedVmexitFact) {
        if count < NestedVmexits.capacity { storage[count] = f }
        count += 1
    }
    @inline(__always) mutating func removeAll() { count = 0 }
    /// The `i`-th #VMEXIT, for i below min(count, capacity).
    public subscript(i: Int) -> NestedVmexitFact { storage[i] }
    /// How many are kept.
    public var kept: Int { min(count, NestedVmexits.capacity) }

    public static func == (a: NestedVmexits, b: NestedVmexits) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.kept where a[i] != b[i] { return false }
        return true
    }
}

/// An entry into L2 that KVM has emulated (VMRUN, an RSM back into L2, KVM_SET_NESTED_STATE with
/// RUN_PENDING) and the CPU has not performed yet: what vcpu->arch.nested_run_pending stands for.
public struct EmulatedL2Entry: Hashable, Sendable {
    public enum Source: UInt8, Sendable, CustomStringConvertible {
        case vmrun, rsm, setNestedState
        public var description: String {
            switch self {
            case .vmrun: return "VMRUN"
            case .rsm: return "RSM into L2"
            case .setNestedState: return "KVM_SET_NESTED_STATE with RUN_PENDING"
            }
        }
    }
    public var source: Source
    /// Userspace had the vCPU since (a KVM_RUN began after it, or it came from KVM_SET_NESTED_STATE):
    /// KVM_NESTED_RUN_PENDING_UNTRUSTED.
    public var userspaceHadControl: Bool
}

/// Something KVM did to L1 while an emulated entry into L2 was still pending.
public struct OvertakenL2Entry: Hashable, Sendable {
    public var entry: EmulatedL2Entry
    /// The exit code of the nested #VMEXIT KVM made; nil when it reset the vCPU for an INIT instead.
    public var vmexitCode: UInt64?
}

/// struct svm_nested_state (arch/x86/kvm/svm/svm.h)
public struct SvmNested: Hashable, Sendable {
    public var initialized = false
    public var hsaveMsr: UInt64 = 0
    public var vmCrMsr: UInt64 = 0
    public var vmcb12Gpa: UInt64 = GuestPhys.invalidGpa
    public var lastVmcb12Gpa: UInt64 = GuestPhys.invalidGpa
    /// Sanitised copy of the vmcb12 control area (vmcb_ctrl_area_cached).
    public var ctl = VmcbControl()
    /// Copy of the vmcb12 save area (vmcb_save_area_cached).
    public var save = VmcbSave()
    public var forceMsrBitmapRecalc = false
    public init() {}
}

public struct Vcpu: Equatable, Sendable {
    public let config: VcpuConfig

    // vcpu->arch register caches. RFLAGS lives in the current VMCB.
    public internal(set) var efer: UInt64 = 0
    public internal(set) var cr0: UInt64 = 0
    public internal(set) var cr2: UInt64 = 0
    public internal(set) var cr3: UInt64 = 0
    public internal(set) var cr4: UInt64 = 0
    public internal(set) var rip: UInt64 = 0
    public internal(set) var rsp: UInt64 = 0
    public internal(set) var rax: UInt64 = 0

    // hflags
    public internal(set) var guestMode = false
    public internal(set) var smm = false
    public internal(set) var smmInsideNmi = false

    /// vcpu->arch.nested_run_pending: 0, KVM_NESTED_RUN_PENDING (1) or _UNTRUSTED (2).
    public internal(set) var nestedRunPending: UInt8 = 0
    public internal(set) var requests = Requests()
    /// vcpu->arch.exception: the queued exception (kvm_queue_exception, or userspace's), pending or
    /// injected, delivered at the next entry.
    public internal(set) var exception: KvmException? = nil
    public internal(set) var smiPending = false
    /// vcpu->arch.interrupt.injected: an IRQ KVM was delivering when it last exited, re-injected
    /// at the next entry whatever GIF says.
    public internal(set) var injectedIrq = false
    /// KVM_APIC_INIT in apic->pending_events.
    public internal(set) var initPending = false
    /// vcpu->wants_to_run: true only inside KVM_RUN.
    public internal(set) var wantsToRun = false
    /// kvm_vm_dead was called.
    public internal(set) var vmDead = false

    // struct vcpu_svm
    public internal(set) var vmcb01 = Vmcb()
    public internal(set) var vmcb02 = Vmcb()
    public internal(set) var current: VmcbSlot = .vmcb01
    /// GIF, wherever vGIF keeps it (one boolean, reference §1.3 model note).
    public internal(set) var gif = true
    /// With vGIF, L1's GIF stays in vmcb01's V_GIF while L2 runs on vmcb02: what a forced leave
    /// without 8312f1b9dd71 goes back to (svm_leave_nested switches VMCBs and sets no GIF).
    var vmcb01Gif = true
    public internal(set) var nested = SvmNested()
    public internal(set) var smbase: UInt64 = 0x30000
    /// With NPT, svm_leave_nested switched to vmcb01 without reloading the MMU: vmcb01.save.cr3 still
    /// holds the CR3 L1 had at VMRUN, the CPU runs L1 on it, and svm_handle_exit copies it back into
    /// vcpu->arch.cr3 at the next exit. Cleared by kvm_mmu_reset_context (kvmMmuResetContext).
    public internal(set) var mmuRootStale = false
    /// L1's MMU root survived since the vCPU entered guest mode (no kvm_mmu_reset_context unloaded it),
    /// so a forced leave resumes L1 on it without svm_load_mmu_pgd.
    public internal(set) var l1RootKept = false
    /// The same forced leave left vmcb01's nested CR3 on the root L1 ran on before VMRUN, not the one
    /// the MMU now fixes faults in: cleared when an entry services KVM_REQ_LOAD_MMU_PGD, which writes
    /// the MMU's root into the VMCB, and by whatever clears mmuRootStale.
    public internal(set) var vmcbRootStale = false

    public internal(set) var memory = GuestMemory()
    /// An environment input, not KVM state: the image another vCPU of the same guest writes over the
    /// vmcb12 page while KVM emulates this vCPU's next VMRUN, landing after KVM has first read the page
    /// (a race the model cannot run with one thread). The next VMRUN emulation that maps vmcb12 consumes
    /// it; the end of the next VMRUN instruction drops it whatever happened.
    public internal(set) var concurrentVmcb12Write: Vmcb? = nil
    public internal(set) var owners = RegisterOwners()
    public internal(set) var warnings = WarnSet()

    // Observables of the last instruction or entry (the executor copies them into its step record).
    /// The last exception KVM injected into the running level (nil: none since the last entry).
    public internal(set) var lastInjected: UInt8? = nil
    /// The event the CPU delivered at the last entry into L2 (EVENTINJ), nil when none.
    public internal(set) var lastDelivered: DeliveredEvent? = nil
    /// The exit code of the last emulated #VMEXIT to L1.
    public internal(set) var lastVmexitCode: UInt64? = nil
    /// L1's state as svm_enter_smm saved it in the hsave page at the last SMI taken in L2 (an
    /// observable for the smm-l1-state check; KVM itself keeps only the guest page).
    public internal(set) var l1StateAtSmi: VmcbSave? = nil
    /// The first RSM into L2 that installed an L1 state different from the one its SMI saved, or one
    /// that VMRUN's and KVM_SET_NESTED_STATE's checks refuse.
    public internal(set) var smmL1Mismatch: SmmL1Record? = nil
    /// L1's registers as the VMRUN that entered the current L2 saved them (nil outside guest mode, or
    /// when L2 was entered by userspace or by an RSM that no VMRUN preceded).
    public internal(set) var l1AtVmrun: L1Registers? = nil
    /// l1AtVmrun kept while an SMI taken in L2 is in SMM, for the RSM back into L2.
    public internal(set) var l1AtVmrunAcrossSmm: L1Registers? = nil
    /// Observable for the vmexit-restores-l1 invariant: the first #VMEXIT that handed L1 other
    /// registers than its VMRUN saved.
    public internal(set) var l1RestoreMismatch: L1RestoreRecord? = nil
    /// Observable for the exit-routing invariant: the nested #VMEXITs of the current operation.
    public internal(set) var stepVmexits = NestedVmexits()
    /// Observable for the entry-completes invariant: the emulated entry into L2 the CPU has not made
    /// yet. Set where KVM finishes emulating one, cleared by the hardware entry into L2 (svm_vcpu_run)
    /// or when the vCPU leaves guest mode.
    public internal(set) var pendingL2Entry: EmulatedL2Entry? = nil
    /// Observable for the entry-completes invariant: what KVM did to L1 during the current operation
    /// while an emulated entry was pending (a nested #VMEXIT, or an INIT reset).
    public internal(set) var l2EntryOvertaken: OvertakenL2Entry? = nil

    /// L1's registers now (meaningful outside guest mode).
    var l1Registers: L1Registers {
        L1Registers(efer: efer, cr0: cr0, cr3: cr3, cr4: cr4, rflags: rflags, rip: rip, rsp: rsp, rax: rax)
    }

    public init(config: VcpuConfig) {
        self.config = config
    }

    /// The level whose code runs next.
    @inline(__always) public var mode: Mode { smm ? .smm : (guestMode ? .l2 : .l1) }

    /// The running level's CPL, as the current VMCB holds it.
    @inline(__always) public var cpl: UInt8 { current == .vmcb01 ? vmcb01.save.cpl : vmcb02.save.cpl }

    @inline(__always) public var rflags: UInt64 {
        current == .vmcb01 ? vmcb01.save.rflags : vmcb02.save.rflags
    }

    /// svm->vmcb. Mutations go to the current VMCB in place (no copy of the whole VMCB).
    @inline(__always) var vmcb: Vmcb {
        get { current == .vmcb01 ? vmcb01 : vmcb02 }
        _modify {
            if current == .vmcb01 { yield &vmcb01 } else { yield &vmcb02 }
        }
    }

    /// nested_vgif_enabled (arch/x86/kvm/svm/svm.h): L1 gave L2 its own virtual GIF.
    var nestedVgifEnabled: Bool { config.vgif && nested.ctl.intCtl & IntCtl.vGifEnable != 0 }

    @inline(__always) var isPaging: Bool { cr0 & CR0.pg != 0 }
    @inline(__always) var isLongMode: Bool { efer & EFER.lma != 0 }
    @inline(__always) var runningOwner: Owner { guestMode ? .l2 : .l1 }

    @inline(__always) mutating func warn(_ site: WarnSite) { warnings.insert(site) }
    @inline(__always) mutating func makeRequest(_ r: Requests) { requests.insert(r) }
    @inline(__always) mutating func clearRequest(_ r: Requests) { requests.remove(r) }

    /// kvm_set_rflags (arch/x86/kvm/x86.c): RFLAGS goes into the current VMCB and raises KVM_REQ_EVENT.
    mutating func kvmSetRflags(_ value: UInt64, owner: Owner) {
        kvmSetRflagsQuietly(value, owner: owner)
        makeRequest(.event)
    }

    /// __kvm_set_rflags (arch/x86/kvm/x86.c): into the current VMCB, without KVM_REQ_EVENT.
    mutating func kvmSetRflagsQuietly(_ value: UInt64, owner: Owner) {
        if current == .vmcb01 {
            vmcb01.save.rflags = value | RFLAGS.fixed
            owners.rflags01 = owner
        } else {
            vmcb02.save.rflags = value | RFLAGS.fixed
            owners.rflags02 = owner
        }
    }

    /// svm_switch_vmcb (arch/x86/kvm/svm/svm.c): only repoints svm->vmcb.
    @inline(__always) mutating func svmSwitchVmcb(_ slot: VmcbSlot) { current = slot }

    /// kvm_queue_exception / kvm_inject_gp: the exception is delivered at the next entry (pending; #GP
    /// with error code 0, as kvm_inject_gp queues it).
    @inline(__always) mutating func kvmQueueException(_ vector: UInt8) {
        exception = KvmException(vector: vector, errorCode: Vector.hasErrorCode(vector) ? 0 : nil)
        lastInjected = vector
        makeRequest(.event)                        // kvm_multiple_exception
    }
}
