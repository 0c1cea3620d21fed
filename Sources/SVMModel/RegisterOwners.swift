// Who a cached register's value belongs to. This is what the l1-runs-l2-state check reads:
// a #VMEXIT hands every register back to L1; a forced leave does not.

public enum Owner: UInt8, Sendable, CustomStringConvertible {
    /// Restored from vmcb01 by an emulated #VMEXIT, or written by L1 itself.
    case l1
    /// Loaded for L2 (VMRUN, RSM into L2) or written while in guest mode.
    case l2
    /// Written by a userspace ioctl or by a vCPU reset.
    case host

    public var description: String {
        switch self {
        case .l1: return "l1"
        case .l2: return "l2"
        case .host: return "host"
        }
    }
}

/// The owners of the registers nested_svm_vmexit restores.
/// RFLAGS lives in the current VMCB (svm_get_rflags), so it has an owner per VMCB.
public struct RegisterOwners: Hashable, Sendable {
    public var rip: Owner = .host
    public var rsp: Owner = .host
    public var rax: Owner = .host
    public var cr0: Owner = .host
    public var cr3: Owner = .host
    public var cr4: Owner = .host
    public var efer: Owner = .host
    public var rflags01: Owner = .host
    public var rflags02: Owner = .host

    public init() {}

    public static let names = ["rip", "rsp", "rax", "rflags", "cr0", "cr3", "cr4", "efer"]

    /// The owners of the registers as the running context sees them.
    public func visible(current: VmcbSlot) -> [Owner] {
        [rip, rsp, rax, current == .vmcb01 ? rflags01 : rflags02, cr0, cr3, cr4, efer]
    }

    /// The first register (by name) whose value L2 owns, for the running context. Inlinable: the
    /// l1-runs-l2-state check calls it at every entry, and compiled into SVMFuzzKit it carries none of
    /// SVMModel's coverage and cmp callbacks (they made it 3.4% of a fuzzer execution).
    @inlinable @inline(__always) public func firstL2Owned(current: VmcbSlot) -> String? {
        if rip == .l2 { return "rip" }
        if rsp == .l2 { return "rsp" }
        if rax == .l2 { return "rax" }
        if (current == .vmcb01 ? rflags01 : rflags02) == .l2 { return "rflags" }
        if cr0 == .l2 { return "cr0" }
        if cr3 == .l2 { return "cr3" }
        if cr4 == .l2 { return "cr4" }
        if efer == .l2 { return "efer" }
        return nil
    }

    /// Userspace forced the vCPU out of guest mode: it now owns whatever L2 left behind.
    @inline(__always) mutating func handL2LeftoversToHost() {
        if rip == .l2 { rip = .host }
        if rsp == .l2 { rsp = .host }
        if rax == .l2 { rax = .host }
        if cr0 == .l2 { cr0 = .host }
        if cr3 == .l2 { cr3 = .host }
        if cr4 == .l2 { cr4 = .host }
        if efer == .l2 { efer = .host }
        if rflags01 == .l2 { rflags01 = .host }
    }

    @inline(__always) mutating func setAll(_ o: Owner, current: VmcbSlot) {
        rip = o; rsp = o; rax = o; cr0 = o; cr3 = o; cr4 = o; efer = o
        if current == .vmcb01 { rflags01 = o } else { rflags02 = o }
    }
}
