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

    /// kvm_arch_vcpu_destroy (arch/x86/kvm/x86.c), reached when the VMM closes the VM (KVM frees vCPUs
    /// only with their VM, in kvm_destroy_vcpus), with svm_vcpu_free (arch/x86/kvm/svm/svm.c): out of
    /// guest mode, then the nested state freed. Afterwards the vCPU is gone: nothing of it but the WARNs
    /// it fired (the host's log) outlives it.
    public mutating func kvmArchVcpuDestroy() {
        // [B08] without 917401f26a6a ("KVM: x86: nSVM: leave nested mode on vCPU free"): vmcb02 was freed
        // with the vCPU still in guest mode on it (svm_free_nested's WARN, since 16ae56d7e052).
        if has(.leaveNestedOnVcpuFree) { svmLeaveNested() }
        svmFreeNested()
    }

    /// A vCPU created in a new VM of the same configuration over the same guest memory (a VMM that keeps
    /// the guest's RAM, as migration copies it): `initial` (Vcpu.makeL1, or a bare created vCPU) with
    /// this vCPU's memory, and this vCPU's WARNs, which went to the host's log, not to the vCPU.
    public func recreated(as initial: Vcpu) -> Vcpu {
        var v = initial
        v.memory = memory
        v.warnings = warnings
        return v
    }
}
