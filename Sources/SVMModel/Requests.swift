// KVM_REQ_* bits the model tracks (arch/x86/include/asm/kvm_host.h).

public struct Requests: OptionSet, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let tripleFault = Requests(rawValue: 1 << 0)
    public static let getNestedStatePages = Requests(rawValue: 1 << 1)
    public static let event = Requests(rawValue: 1 << 2)
    public static let recalcIntercepts = Requests(rawValue: 1 << 3)
    public static let apicvUpdate = Requests(rawValue: 1 << 4)
    public static let mmuSync = Requests(rawValue: 1 << 5)
    public static let tlbFlushCurrent = Requests(rawValue: 1 << 6)
    public static let tlbFlushGuest = Requests(rawValue: 1 << 7)
    /// kvm_mmu_new_pgd asks the next entry to write the current root and CR3 into the VMCB
    /// (svm_load_mmu_pgd); the request outlives a forced leave, so it lands in vmcb01.
    public static let loadMmuPgd = Requests(rawValue: 1 << 8)

    public static let named: [(String, Requests)] = [
        ("TRIPLE_FAULT", .tripleFault), ("GET_NESTED_STATE_PAGES", .getNestedStatePages), ("EVENT", .event),
        ("RECALC_INTERCEPTS", .recalcIntercepts), ("APICV_UPDATE", .apicvUpdate), ("MMU_SYNC", .mmuSync),
        ("TLB_FLUSH_CURRENT", .tlbFlushCurrent), ("TLB_FLUSH_GUEST", .tlbFlushGuest), ("LOAD_MMU_PGD", .loadMmuPgd),
    ]

    public var names: [String] { Requests.named.filter { contains($0.1) }.map { $0.0 } }
}
