// The guest CPU's limits that come from CPUID (KVM_SET_CPUID2 with what KVM_GET_SUPPORTED_CPUID
// offers): MAXPHYADDR and the CR4 bits whose features exist. The host decides them: KVM offers no
// more than the CPU it runs on. Also what the CPU itself checks in the guest's instructions that
// KVM lets it run (the MSR writes it does not intercept), where QEMU's TCG is not silicon.

public struct GuestCpu: Hashable, Sendable {
    /// CPUID 0x80000008 EAX[7:0], vcpu->arch.maxphyaddr (cpuid_query_maxphyaddr).
    public var maxPhyAddr: UInt8
    /// The CR4 bits neither CR4_RESERVED_BITS nor __cr4_reserved_bits of the guest's CPUID reserve.
    public var cr4Allowed: UInt64
    /// A guest WRMSR to FS_BASE, GS_BASE or KERNEL_GS_BASE, which KVM passes through to the CPU
    /// (svm_direct_access_msrs), #GPs a non-canonical address. QEMU 7.2's TCG stores it unchecked
    /// (helper_wrmsr): real 6.1.192 and 6.12.117 under TCG keep 0x8000000000000000 (oracle campaigns).
    public var checksCanonicalBases: Bool = true
    /// VMRUN checks EVENTINJ as APM 15.20 lists it (a defined type; for the exception type, a vector
    /// that is an exception). QEMU 7.2's helper_vmrun refuses only an undefined type and, for the
    /// exception type, vector 2 or a vector from 31 up.
    public var checksEventInjLikeTheApm: Bool = true
    /// The exit code a failed VMRUN writes: VMEXIT_INVALID, -1 in all 64 bits. QEMU 7.2's cpu_vmexit
    /// takes a 32-bit code and writes 0xffffffff (real 6.1.192 under TCG shows that in vmcb12, since
    /// nested_svm_vmexit copies both halves from vmcb02).
    public var vmrunFailureExitCode: UInt64 = SVMExit.err

    /// The modeled host, an AMD EPYC (Zen 3 on): 48-bit physical addresses, FSGSBASE, PCID, XSAVE,
    /// SMEP and SMAP.
    public static let epyc = GuestCpu(maxPhyAddr: 48, cr4Allowed: CR4.supported)

    /// QEMU's TCG CPU `qemu64` (the real-KVM oracle's L0): 40-bit physical addresses (QEMU's
    /// TCG_PHYS_ADDR_BITS) and none of FSGSBASE, PCID, XSAVE, SMEP, SMAP in its CPUID, so
    /// __cr4_reserved_bits reserves their CR4 bits.
    public static let qemu64 = GuestCpu(
        maxPhyAddr: 40,
        cr4Allowed: CR4.supported & ~(CR4.fsgsbase | CR4.pcide | CR4.osxsave | CR4.smep | CR4.smap),
        checksCanonicalBases: false,
        checksEventInjLikeTheApm: false,
        vmrunFailureExitCode: 0xffff_ffff)

    /// Whether the CPU's VMRUN refuses this EVENTINJ (VMEXIT_INVALID, SVM_EXIT_ERR to the hypervisor
    /// that ran it): what KVM leaves to the CPU when it does not check vmcb12's EVENTINJ itself.
    public func vmrunRefusesEventInj(_ e: UInt32) -> Bool {
        let apm = checksEventInjLikeTheApm
        return !EventInj.isDeliverable(e) { apm ? Vector.isDefinedException($0) : $0 != Vector.nmi && $0 < 31 }
    }

    /// kvm_vcpu_is_legal_gpa (arch/x86/kvm/cpuid.h)
    @inline(__always) public func isLegalGpa(_ gpa: UInt64) -> Bool { gpa >> UInt64(maxPhyAddr) == 0 }

    /// page_address_valid (arch/x86/kvm/x86.h)
    @inline(__always) public func pageAddressValid(_ gpa: UInt64) -> Bool {
        gpa & ~GuestPhys.pageMask == 0 && isLegalGpa(gpa)
    }

    /// __kvm_is_valid_cr4 (arch/x86/kvm/x86.c)
    @inline(__always) public func isValidCr4(_ value: UInt64) -> Bool { value & ~cr4Allowed == 0 }
}
