// Creating a vCPU and putting it in the state a program starts from.

extension Vcpu {
    /// The state the VMM puts a new vCPU in before a program runs: 64-bit L1, paging on,
    /// EFER = SCE|LME|LMA|NX (SVME clear), HSAVE_PA unset, GIF=1.
    public static let initialSregs = KvmSregs(efer: EFER.sce | EFER.lme | EFER.lma | EFER.nx,
                                              cr0: 0x8005_0033, cr2: 0, cr3: 0x1000, cr4: CR4.pae)
    public static let initialRegs = KvmRegs(rip: 0x1000, rsp: 0x8000, rax: 0, rflags: RFLAGS.fixed)

    /// kvm_arch_vcpu_create + kvm_vcpu_reset(RESET), then the VMM's SET_SREGS and SET_REGS.
    public static func makeL1(config: VcpuConfig) -> Vcpu {
        var v = Vcpu(config: config)
        v.kvmVcpuReset(initEvent: false)
        _ = v.setSregs(initialSregs)
        _ = v.setRegs(initialRegs)
        v.requests = []
        return v
    }
}
