// KVM_GET_NESTED_STATE / KVM_SET_NESTED_STATE (reference §7.4).

/// struct kvm_nested_state with the SVM header and data, reduced.
public struct KvmNestedState: Hashable, Sendable {
    /// KVM_STATE_NESTED_FORMAT_VMX (0) and _SVM (1).
    public static let formatVmx: UInt16 = 0
    public static let formatSvm: UInt16 = 1
    /// sizeof(struct kvm_nested_state): the header userspace must pass at least.
    public static let headerSize: UInt32 = 0x80
    /// KVM_STATE_NESTED_SVM_VMCB_SIZE: the data area (vmcb12 control at 0, L1's save area at 0x400).
    public static let vmcbSize: UInt32 = 0x1000

    public var flags: UInt32
    /// kvm_nested_state.format
    public var format: UInt16
    /// kvm_nested_state.size: the header, plus the data area when it is given.
    public var size: UInt32
    /// kvm_svm_nested_state_hdr.vmcb_pa
    public var vmcbPa: UInt64
    /// The vmcb12 control area at offset 0 of the data.
    public var control: VmcbControl
    /// L1's saved state (vmcb01.save) at offset 0x400 of the data.
    public var save: VmcbSave

    public init(flags: UInt32, vmcbPa: UInt64 = 0, hasData: Bool = false, control: VmcbControl = VmcbControl(),
                save: VmcbSave = VmcbSave(), format: UInt16 = KvmNestedState.formatSvm) {
        self.flags = flags; self.vmcbPa = vmcbPa
        self.size = KvmNestedState.headerSize + (hasData ? KvmNestedState.vmcbSize : 0)
        self.format = format
        self.control = control; self.save = save
    }

    /// Whether the size covers the 4 KiB data area (KVM reads it only then).
    public var hasData: Bool {
        get { size >= KvmNestedState.headerSize + KvmNestedState.vmcbSize }
        set { size = KvmNestedState.headerSize + (newValue ? KvmNestedState.vmcbSize : 0) }
    }
}

extension Vcpu {
    /// KVM_GET_NESTED_STATE → svm_get_nested_state (arch/x86/kvm/svm/nested.c)
    public func getNestedState() -> KvmNestedState {
        var s = KvmNestedState(flags: 0)
        if guestMode {
            s.flags |= NestedFlag.guestMode
            if nestedRunPending != 0 { s.flags |= NestedFlag.runPending }
            s.vmcbPa = nested.vmcb12Gpa
            s.hasData = true                       // size covers the data area
            // nested_copy_vmcb_cache_to_control: the exit fields are vmcb12's as VMRUN (or
            // KVM_SET_NESTED_STATE) cached them, not zeroed.
            s.control = nested.ctl
            s.save = vmcb01.save
        }
        if gif && has(.reportGifInNestedState) { s.flags |= NestedFlag.gifSet }
        return s
    }

    /// KVM_SET_NESTED_STATE: kvm_arch_vcpu_ioctl's checks (arch/x86/kvm/x86.c), then svm_set_nested_state.
    public mutating func setNestedState(_ st: KvmNestedState) -> Errno {
        if vmDead { return .eio }
        return svmSetNestedState(st)
    }

    /// svm_set_nested_state (arch/x86/kvm/svm/nested.c): every check before any state change
    /// (kvmNestedStateRejection, Refusals.swift), except the final CR3 load, which fails with the
    /// vCPU already in guest mode.
    mutating func svmSetNestedState(_ st: KvmNestedState) -> Errno {
        var ctl = VmcbControl()
        if kvmNestedStateRejection(st, sanitizedControl: &ctl) != nil { return .einval }
        // Userspace now says what L1's saved state is; no VMRUN saved it.
        l1AtVmrun = nil

        if st.flags & NestedFlag.guestMode == 0 {
            let wasInL2 = guestMode
            svmLeaveNested()
            if !wasInL2 || has(.setGifWhenNestedStateLeavesL2) {
                svmSetGif(st.flags & NestedFlag.gifSet != 0)
            }
            return .ok
        }

        let save = st.save

        // Commit.
        if guestMode {
            svmLeaveNested()
        } else {
            // The L2 registers userspace put in the current VMCB become vmcb02's.
            vmcb02.save = vmcb01.save
            owners.rflags02 = owners.rflags01
        }
        // Set on vmcb01, before the switch; vmcb02 takes its V_GIF from there (nested_vmcb02_prepare_control).
        svmSetGif(st.flags & NestedFlag.gifSet != 0)
        vmcb01Gif = gif
        nestedRunPending = st.flags & NestedFlag.runPending != 0 ? 2 : 0
        nested.vmcb12Gpa = st.vmcbPa
        Vcpu.svmCopyVmrunState(&vmcb01.save, from: save)
        nested.ctl = ctl
        svmSwitchVmcb(.vmcb02)
        nestedVmcb02PrepareControl(vmcb12Rip: vmcb02.save.rip)
        if !nestedSvmLoadCr3(cr3, nestedNpt: nestedNptEnabled, reloadPdptrs: false, owner: owners.cr3) {
            return .einval
        }
        nested.forceMsrBitmapRecalc = true
        makeRequest([.apicvUpdate, .getNestedStatePages])
        if nestedRunPending != 0 { pendingL2Entry = EmulatedL2Entry(source: .setNestedState, userspaceHadControl: true) }
        return .ok
    }

    /// svm_copy_vmrun_state (arch/x86/kvm/svm/nested.c): the VMRUN-handled fields of a save area,
    /// with RFLAGS' fixed bit set and CPL 0 (used for vmcb01 and the SMM copy in the hsave page).
    static func svmCopyVmrunState(_ to: inout VmcbSave, from s: VmcbSave) {
        to.efer = s.efer
        to.cr0 = s.cr0
        to.cr3 = s.cr3
        to.cr4 = s.cr4
        to.rflags = s.rflags | RFLAGS.fixed
        to.rax = s.rax
        to.rsp = s.rsp
        to.rip = s.rip
        to.cpl = 0
    }
}
