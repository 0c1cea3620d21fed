// Triple fault and shutdown (reference §6): the KVM_REQ_TRIPLE_FAULT request path, which does not
// reset the vCPU, and the hardware SHUTDOWN intercept, which INIT-resets it.

extension Vcpu {
    /// nested_svm_triple_fault (arch/x86/kvm/svm/nested.c)
    mutating func nestedSvmTripleFault() {
        // Without the SHUTDOWN intercept the request stays pending and shuts L1 down.
        guard nested.ctl.intercepts.contains(.shutdown) || !has(.shutdownExitOnlyIfIntercepted) else { return }
        clearRequest(.tripleFault)
        nestedSvmSimpleVmexit(SVMExit.shutdown)
    }

    /// shutdown_interception (arch/x86/kvm/svm/svm.c): a hardware shutdown INIT-resets the vCPU.
    mutating func shutdownInterception() -> ExitHandling {
        vmcb = Vmcb()                              // clear_page(svm->vmcb)
        // a2620f8932fa: leave SMM before the reset ([B10] without it: the reset ran inside SMM).
        if smm && has(.leaveSmmOnShutdown) { kvmSmmChanged(false) }
        kvmVcpuReset(initEvent: true)
        return .exitToUserspace(.shutdown)
    }
}
