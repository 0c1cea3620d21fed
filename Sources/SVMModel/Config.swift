// Module parameters and guest CPUID the model is created with.

public struct VcpuConfig: Hashable, Sendable {
    public var variant: Variant
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
    /// Guest CPUID X86_FEATURE_NRIPS (the host always has NextRIP save)
    public var guestNrips: Bool
    /// Test-only breakage (Sabotage.swift); empty in every real run.
    public var sabotage: Sabotage

    public init(variant: Variant = .default, nested: Bool = true, npt: Bool = true, vgif: Bool = true,
                guestSvm: Bool = true, guestLm: Bool = true, guestNrips: Bool = true, sabotage: Sabotage = []) {
        self.sabotage = sabotage
        self.variant = variant
        self.nested = nested
        self.npt = npt
        self.vgif = vgif
        self.guestSvm = guestSvm
        self.guestLm = guestLm
        self.guestNrips = guestNrips
    }

    /// kvm_caps.supported_efer_bits: SCE, LME, LMA, NX always; SVME when kvm_amd.nested is set.
    public var supportedEferBits: UInt64 {
        EFER.sce | EFER.lme | EFER.lma | EFER.nx | (nested ? EFER.svme : 0)
    }
}
