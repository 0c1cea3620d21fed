// Deliberate breakage for testing the fuzzer's checks: each option makes one modeled KVM function
// wrong in a way a check must notice. Set only by tests (never from .svm or the command line); core
// code asks `has(Sabotage.x)` the way it asks for a fix (Config.swift).

public struct Sabotage: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// KVM_SET_NESTED_STATE without GUEST_MODE on a vCPU in L2 forgets the GIF flag (restore-mismatch).
    public static let setNestedStateFromL2KeepsGif = Sabotage(rawValue: 1 << 0)
    /// KVM_GET_NESTED_STATE reports no GIF_SET (unrestorable-state).
    public static let getNestedStateDropsGif = Sabotage(rawValue: 1 << 1)
    /// nested_svm_vmexit does not restore L1's RSP (l1-runs-l2-state).
    public static let vmexitKeepsL2Rsp = Sabotage(rawValue: 1 << 2)
}
