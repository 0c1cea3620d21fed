// Lowers a program to the plan the real-KVM runner replays (Sources/svmfuzz-kvm/PLAN.md): the same
// steps, with what the model keeps abstract made concrete: vmcb12 and MSR permission map images in
// the APM layout, SMRAM fields at their state-save offsets, the page-table roots and L2 entry
// points the runner must place.

import SVMModel

public enum KvmPlan {
    /// The plan format's version (first line).
    public static let version = 1

    /// The runner's own area, never used by programs (PLAN.md).
    public static let runnerArea: ClosedRange<UInt64> = 0x60_0000...0x7f_ffff
    public static let gdtBase: UInt64 = 0x60_0000
    public static let idtBase: UInt64 = 0x60_1000
    public static let codeSelector: UInt16 = 0x08
    public static let dataSelector: UInt16 = 0x10
    /// VMCB attribute form of a present 64-bit code segment and a writable data segment.
    public static let code64Attrib: UInt16 = 0x029b
    public static let dataAttrib: UInt16 = 0x0093
    /// SMBASE after reset (KVM's default); the state-save area is at SMBASE + 0xfe00.
    public static let smbase: UInt64 = 0x30000

    /// The plan text of `program`, whose file is `name`.
    public static func lower(_ program: Program, name: String) -> String {
        let c = program.config.vcpuConfig()
        var out = ["plan \(version)", "program \(name)",
                   "config nested=\(bit(c.nested)) npt=\(bit(c.npt)) vgif=\(bit(c.vgif)) svm=\(bit(c.guestSvm)) lm=\(bit(c.guestLm)) nrips=\(bit(c.guestNrips)) fep=\(bit(c.forceEmulationPrefix))"]
        let places = Places(program)
        out += places.cr3s.map { "cr3 \(hex($0))" }
        out += places.l2Entries.map { "l2entry \(hex($0))" }
        for (i, op) in program.operations.enumerated() {
            let line = i < program.lines.count ? program.lines[i] : 0
            out.append("step \(i + 1) \(line) \(step(op))")
        }
        out.append("end")
        return out.joined(separator: "\n") + "\n"
    }

    /// One operation's plan step (without the `step N LINE` prefix), from its description.
    static func step(_ op: Operation) -> String { op.spec.lowerToPlan(op) }

    /// Where the runner's 64-bit interpreter copies start (L1's, then each `l2entry` the runner can
    /// place, as runner.c's setup_places decides) and how long each is (guest.S's g_interp64: 0x159
    /// bytes; a window of a page allows for the model's RIP, which advances by instruction lengths
    /// where the interpreter loops). Guest code the model runs at a RIP outside them runs other bytes
    /// on the runner.
    public static func interpreterStarts(_ program: Program) -> [UInt64] {
        let places = Places(program)
        var starts: [UInt64] = [interpreterL1]
        for e in places.l2Entries {
            let copy = e..<(e &+ interpreterLength)
            let clashes = runnerOwns(e, length: interpreterLength)
                || places.cr3s.contains { copy.overlaps(($0 & cr3PageMask)..<(($0 & cr3PageMask) + 8)) }
                || starts.dropFirst().contains { $0 != e && copy.overlaps($0..<($0 &+ interpreterLength)) }
            if !clashes { starts.append(e) }
        }
        return starts
    }

    /// runner.c's runner_area: whether `length` bytes at `gpa` touch what the runner owns outside the
    /// programs' memory: its area, the SMM entry code, the reset vector, L1's PML4 entry, the real-mode
    /// IVT, the two copies of the 16-bit interpreter, or anything beyond its 4 GiB of RAM. The runner
    /// places neither an L2 interpreter copy nor a CR3's PML4 entry there.
    static func runnerOwns(_ gpa: UInt64, length: UInt64) -> Bool {
        let r = gpa..<(gpa &+ length)
        let owned: [Range<UInt64>] = [
            runnerArea.lowerBound..<(runnerArea.upperBound + 1), smmEntry..<(smmEntry + smmLength),
            resetVector..<(resetVector + 16), l1Pml4..<(l1Pml4 + 8), 0..<0x400,
            realModeCopies[0]..<(realModeCopies[0] + realModeLength),
            realModeCopies[1]..<(realModeCopies[1] + realModeLength)]
        return owned.contains { r.overlaps($0) } || gpa >= runnerRamSize || length > runnerRamSize - gpa
    }

    /// The lengths of guest.S's blocks (g_smm, g_rm) as assembled, the reset vector's address, the 16-bit
    /// interpreter's copies (IP 0xe000 in segment 0xf000 and in the reset segment) and the runner's RAM.
    static let smmLength: UInt64 = 0x61
    static let realModeLength: UInt64 = 0x8a6
    static let resetVector: UInt64 = 0xffff_fff0
    static let realModeCopies: [UInt64] = [0xf_e000, 0xffff_e000]
    static let runnerRamSize: UInt64 = 0x1_0000_0000
    static let cr3PageMask: UInt64 = 0x000f_ffff_ffff_f000
    /// L1's PML4 (guest.h GPA_PML4_L1): the runner's own page table, L1's CR3 when a program starts.
    public static let l1Pml4: UInt64 = 0x1000

    /// Whether `rip` lies in one of the interpreter windows starting at `starts`.
    public static func runsInterpreter(_ rip: UInt64, starts: [UInt64]) -> Bool {
        starts.contains { rip >= $0 && rip - $0 < interpreterWindow }
    }

    /// L1's interpreter copy (PLAN.md), the SMM interpreter's entry (SMBASE + 0x8000).
    public static let interpreterL1: UInt64 = 0x60_4000
    static let smmEntry: UInt64 = smbase + 0x8000
    static let interpreterLength: UInt64 = 0x159
    static let interpreterWindow: UInt64 = 0x1000

    /// The pages the runner fills before a program's first step besides its own area (runner.c's
    /// setup_tables and place_copies): the real-mode IVT at 0, L1's PML4 at 0x1000 and the PML4 entry
    /// at every other placed CR3, the SMM entry code, the 16-bit interpreter (in segment 0xf000 and
    /// below the reset vector) and the placed L2 interpreter copies. The model takes unwritten
    /// memory as zeros, so a vmcb12 read from one of these pages differs for the runner's reason.
    public static func runnerFilledPages(_ program: Program) -> Set<UInt64> {
        let places = Places(program)
        var pages = runnerCodePages.union([l1Pml4, 0xffff_f000])
        for c in places.cr3s { pages.insert(c & GuestPhys.pageMask) }
        for e in interpreterStarts(program).dropFirst() {
            pages.insert(e & GuestPhys.pageMask)
            pages.insert((e &+ interpreterLength &- 1) & GuestPhys.pageMask)
        }
        return pages
    }

    /// Whether the runner puts a PML4 entry at this CR3 (runner.c's place_copies: not where its own
    /// bytes are, the IVT at 0, the SMM and 16-bit interpreters, its area, nor beyond RAM; L1's PML4
    /// at 0x1000 is its own). Guest code with paging on another CR3 walks other bytes.
    public static func placesCr3(_ cr3: UInt64) -> Bool {
        let page = cr3 & cr3PageMask
        if page == l1Pml4 { return true }
        return !runnerOwns(page, length: 8) && GuestPhys.isMappable(page)
    }

    /// The pages below the runner's area that hold its own tables and code: the real-mode IVT at 0,
    /// the SMM interpreter's entry, the 16-bit interpreter in segment 0xf000 and below the reset vector.
    static let runnerCodePages: Set<UInt64> = [0, smmEntry & GuestPhys.pageMask, 0xf_e000, 0xffff_e000]

    /// Whether an exception frame pushed at RSP lands in RAM the runner's page tables map and that
    /// holds none of its own tables (above L1's PML4 page, below its area; the interpreters' stack
    /// is at 0x8000).
    public static func stackUsable(_ rsp: UInt64) -> Bool { rsp >= 0x2100 && rsp <= runnerArea.lowerBound }

    static func overlapsRunner(_ gpa: UInt64) -> Bool {
        let page = gpa & GuestPhys.pageMask
        return runnerArea.contains(page)
    }

    // MARK: - Images

    /// The 8 KiB permission map: zeroed, then the bytes that hold the known MSRs' bits.
    /// A map that runs past the runner's 4 GiB of RAM is written up to its end (the runner refuses a
    /// plan with a range outside RAM; the model has no memory there either).
    static func msrpmWrites(_ image: MsrpmImage, base: UInt64) -> [String] {
        let size = min(GuestPhys.msrpmSize, runnerRamSize > base ? runnerRamSize - base : 0)
        var w = size > 0 ? ["zero=\(hex(base)):\(hex(size))"] : []
        var offsets: [Int] = []
        for m in MsrpmImage.known { if let bit = svmMsrpmBitNr(m.index), !offsets.contains(bit / 8) { offsets.append(bit / 8) } }
        for o in offsets.sorted() where image.byte(at: o) != 0 && UInt64(o) < size {
            w.append("w8=\(hex(base + UInt64(o))):\(hex(UInt64(image.byte(at: o))))")
        }
        return w
    }

    /// struct kvm_smram_state_64 (arch/x86/kvm/smm.h) offsets from SMBASE of the fields a program patches.
    static func smramWrites(_ p: SmramPatch) -> [String] {
        let base = smbase
        var w: [String] = []
        func put(_ off: UInt64, _ v: UInt64?) { if let v { w.append("w64=\(hex(base + off)):\(hex(v))") } }
        put(0xfed0, p.efer)
        put(0xfed8, p.svmGuest.map { $0 ? 1 : 0 })
        put(0xfee0, p.vmcb)
        put(0xff48, p.cr4)
        put(0xff50, p.cr3)
        put(0xff58, p.cr0)
        put(0xff70, p.rflags)
        put(0xff78, p.rip)
        // gprs[16] at 0xff80 in reverse order: RAX is the last, RSP the fifth from the end.
        put(0xffd8, p.rsp)
        put(0xfff8, p.rax)
        return w
    }

    static func fields(_ head: String, _ f: [(String, UInt64?)]) -> String {
        ([head] + f.compactMap { k, v in v.map { "\(k)=\(hex($0))" } }).joined(separator: " ")
    }

    static func bit(_ b: Bool) -> Int { b ? 1 : 0 }
    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
}

extension KvmPlan {
    /// Where the runner must place page-table roots and interpreter copies: every CR3 and nCR3 the
    /// program can load and every address L2 can start at (vmcb12 RIP, an RSM's saved RIP).
    struct Places {
        var cr3s: [UInt64] = []
        var l2Entries: [UInt64] = []

        init(_ program: Program) {
            Places.add(&cr3s, l1Pml4)
            for op in program.operations {
                switch op {
                case .vmcb(_, let v), .racingVmcb(let v):
                    Places.add(&cr3s, v.save.cr3)
                    if v.control.miscCtl & MiscCtl.enableNp != 0 { Places.add(&cr3s, v.control.nestedCr3) }
                    Places.add(&l2Entries, v.save.rip)
                case .setSregs(let p):
                    if let c = p.cr3 { Places.add(&cr3s, c) }
                case .runWith(let r):
                    if let c = r.sregs?.cr3 { Places.add(&cr3s, c) }
                case .smram(let p):
                    if let c = p.cr3 { Places.add(&cr3s, c) }
                    if let r = p.rip { Places.add(&l2Entries, r) }
                default:
                    break
                }
            }
        }

        /// Only backed addresses outside the runner's area can be placed.
        private static func add(_ list: inout [UInt64], _ gpa: UInt64) {
            guard GuestPhys.isMappable(gpa & GuestPhys.pageMask), !KvmPlan.overlapsRunner(gpa), !list.contains(gpa) else { return }
            list.append(gpa)
        }
    }
}
