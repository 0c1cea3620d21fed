// The guest memory the nested code reads and writes: vmcb12 pages, L1's MSR permission maps,
// the hsave page and SMRAM. Fixed-size and value-typed so that copying a vCPU never allocates.

/// An L1 MSR permission map (svm->nested.ctl.msrpm_base_pa), holding the intercept bits of the
/// MSRs the model knows. Other MSRs' bits read as zero.
public struct MsrpmImage: Hashable, Sendable {
    /// Bit i set: reads (writes) of `MsrpmImage.known[i]` are intercepted.
    public var reads: UInt8 = 0
    public var writes: UInt8 = 0
    public init(reads: UInt8 = 0, writes: UInt8 = 0) {
        self.reads = reads
        self.writes = writes
    }

    public static let known: [(name: String, index: UInt32)] = [
        ("efer", MSR.efer), ("star", MSR.star), ("lstar", MSR.lstar),
        ("vm_cr", MSR.vmCr), ("hsave_pa", MSR.vmHsavePa),
    ]

    /// The byte of the 8 KiB bitmap at `offset`, assembled from the known MSRs' bits.
    public func byte(at offset: Int) -> UInt8 {
        var b: UInt8 = 0
        for (i, m) in MsrpmImage.known.enumerated() {
            guard let bit = svmMsrpmBitNr(m.index), bit / 8 == offset else { continue }
            if reads & (1 << UInt8(i)) != 0 { b |= 1 << UInt8(bit & 7) }
            if writes & (1 << UInt8(i)) != 0 { b |= 2 << UInt8(bit & 7) }
        }
        return b
    }
}

/// svm_msrpm_bit_nr (arch/x86/kvm/svm/svm.h): 2 bits per MSR, three 2 KiB ranges.
@inline(__always) public func svmMsrpmBitNr(_ msr: UInt32) -> Int? {
    let range: Int
    switch msr {
    case 0x0000_0000...0x0000_1fff: range = 0
    case 0xc000_0000...0xc000_1fff: range = 1
    case 0xc001_0000...0xc001_1fff: range = 2
    default: return nil
    }
    return range * 16384 + Int(msr & 0x1fff) * 2
}

/// The SMRAM state-save image KVM writes on SMI and reads on RSM (struct kvm_smram_state_64, reduced).
public struct Smram: Hashable, Sendable {
    public var efer: UInt64 = 0
    public var cr0: UInt64 = 0
    public var cr3: UInt64 = 0
    public var cr4: UInt64 = 0
    public var rip: UInt64 = 0
    public var rsp: UInt64 = 0
    public var rax: UInt64 = 0
    public var rflags: UInt64 = RFLAGS.fixed
    public var svmGuestFlag: Bool = false
    public var svmGuestVmcbGpa: UInt64 = 0
    public init() {}
}

public struct GuestMemory: Equatable, Sendable {
    public static let capacity = 8

    // Parallel fixed-size arrays, so that looking up a GPA or reading one MSRPM byte never copies a page.
    var gpas: InlineArray<8, UInt64> = .init(repeating: GuestPhys.invalidGpa)
    var vmcbs: InlineArray<8, Vmcb> = .init(repeating: Vmcb())
    var msrpms: InlineArray<8, MsrpmImage> = .init(repeating: MsrpmImage())
    public private(set) var pageCount = 0
    public var smram = Smram()

    public init() {}

    @inline(__always) func index(of gpa: UInt64) -> Int? {
        var i = 0
        while i < pageCount {
            if gpas[i] == gpa { return i }
            i += 1
        }
        return nil
    }

    @inline(__always) mutating func slot(for gpa: UInt64) -> Int? {
        if let i = index(of: gpa) { return i }
        guard pageCount < GuestMemory.capacity else { return nil }
        gpas[pageCount] = gpa
        vmcbs[pageCount] = Vmcb()
        msrpms[pageCount] = MsrpmImage()
        pageCount += 1
        return pageCount - 1
    }

    /// kvm_vcpu_map of a VMCB page: nil when the GPA is not backed; zeroes when never written.
    @inline(__always)
    public func readVmcb(_ gpa: UInt64) -> Vmcb? {
        guard GuestPhys.isMappable(gpa) else { return nil }
        let page = gpa & GuestPhys.pageMask
        guard let i = index(of: page) else { return Vmcb() }
        return vmcbs[i]
    }

    /// readVmcb for the core's own mutating paths: borrowing the memory in place keeps the optimizer
    /// from copying every page first.
    @inline(__always)
    mutating func mapVmcb(_ gpa: UInt64) -> Vmcb? {
        guard GuestPhys.isMappable(gpa) else { return nil }
        guard let i = index(of: gpa & GuestPhys.pageMask) else { return Vmcb() }
        return vmcbs[i]
    }

    /// Writes a VMCB page; false when the GPA is not backed (or the model's page table is full).
    @discardableResult
    @inline(__always)
    public mutating func writeVmcb(_ gpa: UInt64, _ vmcb: Vmcb) -> Bool {
        guard GuestPhys.isMappable(gpa), let i = slot(for: gpa & GuestPhys.pageMask) else { return false }
        vmcbs[i] = vmcb
        return true
    }

    public mutating func writeMsrpm(_ gpa: UInt64, _ image: MsrpmImage) -> Bool {
        guard GuestPhys.isMappable(gpa), let i = slot(for: gpa & GuestPhys.pageMask) else { return false }
        msrpms[i] = image
        return true
    }

    /// kvm_vcpu_read_guest of one byte of an L1 MSR permission map; nil on a read failure.
    @inline(__always)
    public func readMsrpmByte(base: UInt64, offset: Int) -> UInt8? {
        guard GuestPhys.isMappable(base &+ UInt64(offset)) else { return nil }
        guard let i = index(of: base & GuestPhys.pageMask) else { return 0 }
        return msrpms[i].byte(at: offset)
    }

    public static func == (a: GuestMemory, b: GuestMemory) -> Bool {
        guard a.pageCount == b.pageCount, a.smram == b.smram else { return false }
        for i in 0..<a.pageCount {
            if a.gpas[i] != b.gpas[i] || a.vmcbs[i] != b.vmcbs[i] || a.msrpms[i] != b.msrpms[i] { return false }
        }
        return true
    }
}
