// Module parameters, guest CPUID and the KVM behaviour (fixes, SVME policy) the model is created with.

public struct VcpuConfig: Hashable, Sendable {
    /// The upstream fixes this KVM has, and its core behaviours (KvmFixes.swift).
    public var fixes: KvmFixes
    /// What clearing EFER.SVME in guest mode does (SvmeClearPolicy.swift).
    public var svmeClear: SvmeClearPolicy
    /// kvm_amd.nested
    public var nested: Bool
    /// kvm_amd.npt
    public var npt: Bool
    /// kvm_amd.vgif
    public var vgif: Bool
    /// Guest CPUID X86_FEATURE_SVM
    public var guestSvm: Bool
    /// Guest CPUID X86_FEATURE_LM
    public var guestLm: Bool
    /// Guest CPUID X86_FEATURE_NRIPS; KVM offers it only on a host with NRIPS (`nripsEnabled`).
    public var guestNrips: Bool
    /// The host kernel runs with CR4.MCE set (every Linux host with machine checks, the QEMU/TCG
    /// oracle's included): svm_set_cr4 copies it into the VMCB's CR4.
    public var hostCr4Mce: Bool = true
    /// kvm.force_emulation_prefix: a guest instruction behind `ud2; .ascii "kvm"` is emulated by
    /// KVM's instruction emulator (Emulator.swift); off, the prefix is a plain #UD.
    public var forceEmulationPrefix: Bool = false
    /// The host CPU has SVME_ADDR_CHK (AMD since Zen 3; QEMU's TCG offers it): VMRUN, VMLOAD and
    /// VMSAVE #GP on an unaligned or illegal rAX before any intercept.
    public var hostSvmeAddrChk: Bool = true
    /// The host CPU has NextRIP save and kvm_amd.nrips is on (every AMD CPU since 2010; QEMU's TCG has
    /// none): the CPU writes NextRIP at instruction exits, and svm_skip_emulated_instruction takes it
    /// from the current VMCB instead of decoding the instruction at RIP.
    public var hostNrips: Bool = true
    /// The host CPU has virtual VMLOAD/VMSAVE and kvm_amd.vls is on (QEMU's TCG has none): with NPT,
    /// vmcb01 lets L1's VMLOAD/VMSAVE run in the CPU (svm_recalc_instruction_intercepts).
    public var hostVls: Bool = true
    /// The guest CPU's MAXPHYADDR and CR4 features (GuestCpu.swift): the modeled EPYC host, or QEMU's
    /// TCG CPU for the real-KVM oracle.
    public var cpu: GuestCpu = .epyc

    /// The default is today's upstream KVM: every fix, and the merged EFER.SVME policy.
    public init(fixes: KvmFixes = .all, svmeClear: SvmeClearPolicy = .tripleFaultIfWantsToRun,
                nested: Bool = true, npt: Bool = true, vgif: Bool = true,
                guestSvm: Bool = true, guestLm: Bool = true, guestNrips: Bool = true) {
        self.fixes = fixes
        self.svmeClear = svmeClear
        self.nested = nested
        self.npt = npt
        self.vgif = vgif
        self.guestSvm = guestSvm
        self.guestLm = guestLm
        self.guestNrips = guestNrips
    }

    /// Whether this KVM has the upstream fix (or the core behaviour).
    @inline(__always) public func has(_ fix: KvmFixes) -> Bool { fixes.contains(fix) }

    /// svm->nrips_enabled: the guest's NRIPS, offered only when the host has it (kvm_cpu_cap_has).
    @inline(__always) public var nripsEnabled: Bool { guestNrips && hostNrips }
    /// kvm_amd.vls after svm_hardware_setup: the host feature, and only with NPT.
    @inline(__always) public var vlsEnabled: Bool { hostVls && npt }

    /// kvm_caps.supported_efer_bits: SCE, LME, LMA, NX always; SVME when kvm_amd.nested is set, and
    /// with it LMSLE (svm_hardware_setup) unless KVM checks the CPU's EFER_LMSLE_MBZ: the modeled host is
    /// a CPU that enumerates it (AMD Zen 3 on), so a kernel with that check refuses the bit.
    public var supportedEferBits: UInt64 {
        let nestedBits = EFER.svme | (fixes.contains(.disallowLmsleWhenMbz) ? 0 : EFER.lmsle)
        return EFER.sce | EFER.lme | EFER.lma | EFER.nx | (nested ? nestedBits : 0)
    }
}

extension Vcpu {
    /// Whether the modeled KVM has the upstream fix or core behaviour (the config's fix set).
    @inline(__always) func has(_ fix: KvmFixes) -> Bool { config.has(fix) }
}
