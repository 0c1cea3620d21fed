// The global interrupt flag (reference §1.3).

extension Vcpu {
    /// svm_set_gif (arch/x86/kvm/svm/svm.c)
    mutating func svmSetGif(_ value: Bool) {
        gif = value
        // Setting GIF unblocks SMI/NMI/INIT that were waiting for it.
        if value && svmHasPendingGifEvent { makeRequest(.event) }
    }

    /// svm_has_pending_gif_event
    var svmHasPendingGifEvent: Bool { smiPending || initPending }
}
