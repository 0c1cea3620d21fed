// The VMCB intercept vector, reduced to the bits the model routes (asm/svm.h INTERCEPT_*).
// Exception intercepts are indexed by vector; the rest by exit code - 0x60, which is how
// nested_svm_intercept's default case looks them up.

public struct InterceptSet: Hashable, Sendable {
    /// Exception intercepts, bit = vector (exit codes 0x40 + vector).
    public var exceptions: UInt32
    /// Instruction/event intercepts, bit = exit code - 0x60.
    public var misc: UInt64

    public init() {
        exceptions = 0
        misc = 0
    }

    public init(exceptions: UInt32, misc: UInt64) {
        self.exceptions = exceptions
        self.misc = misc
    }

    public static let intr = InterceptSet(exceptions: 0, misc: 1 << (SVMExit.intr - 0x60))
    public static let nmi = InterceptSet(exceptions: 0, misc: 1 << (SVMExit.nmi - 0x60))
    public static let smi = InterceptSet(exceptions: 0, misc: 1 << (SVMExit.smi - 0x60))
    public static let initSignal = InterceptSet(exceptions: 0, misc: 1 << (SVMExit.initSignal - 0x60))
    public static let rsm = InterceptSet(exceptions: 0, misc: 1 << (SVMExit.rsm - 0x60))
    public static let msrProt = InterceptSet(exceptions: 0, misc: 1 << (SVMExit.msr - 0x60))
    public static let shutdown = InterceptSet(exceptions: 0, misc: 1 << (SVMExit.shutdown - 0x60))
    public static let vmrun = InterceptSet(exceptions: 0, misc: 1 << (SVMExit.vmrun - 0x60))
    public static let vmmcall = InterceptSet(exceptions: 0, misc: 1 << (SVMExit.vmmcall - 0x60))
    public static let vmload = InterceptSet(exceptions: 0, misc: 1 << (SVMExit.vmload - 0x60))
    public static let vmsave = InterceptSet(exceptions: 0, misc: 1 << (SVMExit.vmsave - 0x60))
    public static let stgi = InterceptSet(exceptions: 0, misc: 1 << (SVMExit.stgi - 0x60))
    public static let clgi = InterceptSet(exceptions: 0, misc: 1 << (SVMExit.clgi - 0x60))
    public static let gp = InterceptSet(exceptions: 1 << UInt32(Vector.gp), misc: 0)
    public static let ud = InterceptSet(exceptions: 1 << UInt32(Vector.ud), misc: 0)

    /// Names used by the .svm language, in printing order.
    public static let named: [(String, InterceptSet)] = [
        ("vmrun", .vmrun), ("vmmcall", .vmmcall), ("shutdown", .shutdown), ("msr_prot", .msrProt),
        ("init", .initSignal), ("smi", .smi), ("intr", .intr), ("nmi", .nmi),
        ("vmload", .vmload), ("vmsave", .vmsave), ("stgi", .stgi), ("clgi", .clgi),
        ("gp", .gp), ("ud", .ud), ("rsm", .rsm),
    ]

    @inline(__always) public func contains(_ other: InterceptSet) -> Bool {
        exceptions & other.exceptions == other.exceptions && misc & other.misc == other.misc
    }
    @inline(__always) public mutating func insert(_ other: InterceptSet) {
        exceptions |= other.exceptions
        misc |= other.misc
    }
    @inline(__always) public mutating func remove(_ other: InterceptSet) {
        exceptions &= ~other.exceptions
        misc &= ~other.misc
    }
    @inline(__always) public func union(_ other: InterceptSet) -> InterceptSet {
        InterceptSet(exceptions: exceptions | other.exceptions, misc: misc | other.misc)
    }

    /// vmcb12_is_intercept for an exit code: exceptions by vector, 0x60...0x9f by bit index.
    @inline(__always) public func intercepts(exitCode: UInt64) -> Bool {
        if exitCode >= 0x40 && exitCode < 0x60 { return exceptions & (1 << UInt32(exitCode - 0x40)) != 0 }
        if exitCode >= 0x60 && exitCode < 0xa0 { return misc & (1 << (exitCode - 0x60)) != 0 }
        return false
    }
}

extension InterceptSet: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: InterceptSet...) {
        self.init()
        for e in elements { insert(e) }
    }
}
