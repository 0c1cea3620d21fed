// Creating a vCPU and putting it in the state a program starts from.

extension Vcpu {
    /// The state the VMM puts a new vCPU in before a program runs: 64-bit L1, paging on,
    /// EFER = SCE|LME|LMA|NX (SVME clear), CR0 = 0x80050033, CR3 = 0x1000, CR4 = PAE,
    /// RIP = 0x1000, RSP = 0x8000, RAX = 0, RFLAGS = 0x2, HSAVE_PA unset, GIF=1, not in SMM.
    public static let initialSregs = KvmSregs(efer: EFER.sce | EFER.lme | EFER.lma | EFER.nx,
                                              cr0: 0x8005_0033, cr2: 0, cr3: 0x1000, cr4: CR4.pae)
    public static let initialRegs = KvmRegs(rip: 0x1000, rsp: 0x8000, rax: 0, rflags: RFLAGS.fixed)
    /// Without long mode in guest CPUID the VMM starts the guest in 32-bit PAE paging instead.
    public static let initialSregs32 = KvmSregs(efer: EFER.sce | EFER.nx, cr0: 0x8005_0033, cr2: 0, cr3: 0x1000,
                                                cr4: CR4.pae)

    /// kvm_arch_vcpu_create + kvm_vcpu_reset(RESET), then the VMM's SET_SREGS and SET_REGS.
    public static func makeL1(config: VcpuConfig) -> Vcpu {
        var v = Vcpu(config: config)
        v.kvmVcpuReset(initEvent: false)
        _ = v.setSregs(config.guestLm ? initialSregs : initialSregs32)
        _ = v.setRegs(initialRegs)
        v.requests = []
        return v
    }
}
