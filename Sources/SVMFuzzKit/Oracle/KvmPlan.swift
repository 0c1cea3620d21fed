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
                   "config nested=\(bit(c.nested)) npt=\(bit(c.npt)) vgif=\(bit(c.vgif)) svm=\(bit(c.guestSvm)) lm=\(bit(c.guestLm)) nrips=\(bit(c.guestNrips))"]
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

    /// One operation's plan step (without the `step N LINE` prefix).
    static func step(_ op: Operation) -> String {
        switch op {
        case .guest(let g):
            switch g {
            case .wrmsr(let msr, let v): return "wrmsr msr=\(hex(UInt64(msr))) value=\(hex(v))"
            case .vmrun(let gpa): return "vmrun gpa=\(hex(gpa))"
            case .vmload(let gpa): return "vmload gpa=\(hex(gpa))"
            case .vmsave(let gpa): return "vmsave gpa=\(hex(gpa))"
            case .vmmcall: return "vmmcall"
            case .stgi: return "stgi"
            case .clgi: return "clgi"
            case .tripleFault: return "triple_fault"
            case .rsm: return "rsm"
            }
        case .vmcb(let gpa, let image):
            guard GuestPhys.isMappable(gpa), !overlapsRunner(gpa) else { return "nop what=unbacked-vmcb" }
            return "mem " + VmcbImage.writes(image, page: gpa & GuestPhys.pageMask).joined(separator: " ")
        case .msrpm(let gpa, let image):
            guard GuestPhys.isMappable(gpa), !overlapsRunner(gpa) else { return "nop what=unbacked-msrpm" }
            return "mem " + msrpmWrites(image, base: gpa & GuestPhys.pageMask).joined(separator: " ")
        case .smram(let p):
            let w = smramWrites(p)
            return w.isEmpty ? "nop what=smram" : "mem " + w.joined(separator: " ")
        case .racingVmcb: return "unsupported what=race_vmcb"
        case .smi: return "smi"
        case .initSignal: return "init"
        case .signal: return "signal"
        case .run: return "run"
        case .setSregs(let p):
            return fields("set_sregs", [("efer", p.efer), ("cr0", p.cr0), ("cr2", p.cr2), ("cr3", p.cr3), ("cr4", p.cr4)])
        case .setRegs(let p):
            return fields("set_regs", [("rip", p.rip), ("rsp", p.rsp), ("rax", p.rax), ("rflags", p.rflags)])
        case .setMsrs(let p):
            return fields("set_msrs", [("efer", p.efer), ("hsave_pa", p.hsavePa), ("vm_cr", p.vmCr)])
        case .setVcpuEvents(let p):
            let f: [(String, Bool?)] = [("smm", p.smm), ("smi_pending", p.smiPending), ("latched_init", p.latchedInit),
                                       ("triple_fault", p.tripleFault), ("interrupt", p.interrupt)]
            return fields("set_vcpu_events", f.map { ($0.0, $0.1.map { $0 ? 1 : 0 }) })
        case .setNestedState(let slot, let flags, let pa):
            return fields("set_nested_state slot=\(slot)", [("flags", flags.map(UInt64.init)), ("vmcb_pa", pa)])
        case .snapshot(let slot): return "snapshot slot=\(slot)"
        case .restore(let slot, let order):
            return "restore slot=\(slot) order=\(order.steps.map(\.description).joined(separator: ","))"
        case .reset: return "reset"
        case .expect: return "nop what=expect"
        }
    }

    static func overlapsRunner(_ gpa: UInt64) -> Bool {
        let page = gpa & GuestPhys.pageMask
        return runnerArea.contains(page)
    }

    // MARK: - Images

    /// The 8 KiB permission map: zeroed, then the bytes that hold the known MSRs' bits.
    static func msrpmWrites(_ image: MsrpmImage, base: UInt64) -> [String] {
        var w = ["zero=\(hex(base)):\(hex(GuestPhys.msrpmSize))"]
        var offsets: [Int] = []
        for m in MsrpmImage.known { if let bit = svmMsrpmBitNr(m.index), !offsets.contains(bit / 8) { offsets.append(bit / 8) } }
        for o in offsets.sorted() where image.byte(at: o) != 0 {
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
            Places.add(&cr3s, 0x1000)
            for op in program.operations {
                switch op {
                case .vmcb(_, let v), .racingVmcb(let v):
                    Places.add(&cr3s, v.save.cr3)
                    if v.control.miscCtl & MiscCtl.enableNp != 0 { Places.add(&cr3s, v.control.nestedCr3) }
                    Places.add(&l2Entries, v.save.rip)
                case .setSregs(let p):
                    if let c = p.cr3 { Places.add(&cr3s, c) }
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
