// A model vmcb12 as the bytes of a real VMCB page (struct vmcb, arch/x86/include/asm/svm.h; APM
// vol. 2 appendix B), completed with what the model leaves abstract: segment registers, descriptor
// tables and G_PAT, set to values every consistency check accepts, so that a field the model has is
// the only thing that can make real VMRUN differ. DR6/DR7 are the model's (their reset values unless
// the program sets them).

import SVMModel

enum VmcbImage {
    /// Control area offsets.
    enum Control {
        static let interceptExceptions: UInt64 = 0x08
        static let interceptWord3: UInt64 = 0x0c      // exit codes 0x60-0x7f
        static let interceptWord4: UInt64 = 0x10      // exit codes 0x80-0x9f
        static let iopmBasePa: UInt64 = 0x40
        static let msrpmBasePa: UInt64 = 0x48
        static let asid: UInt64 = 0x58
        static let intCtl: UInt64 = 0x60
        static let intState: UInt64 = 0x68
        static let exitCode: UInt64 = 0x70
        static let exitInfo1: UInt64 = 0x78
        static let exitInfo2: UInt64 = 0x80
        static let nestedCtl: UInt64 = 0x90
        static let eventInj: UInt64 = 0xa8
        static let nestedCr3: UInt64 = 0xb0
        static let nextRip: UInt64 = 0xc8
    }

    /// Save area offsets (the save area starts at 0x400).
    enum Save {
        static let es: UInt64 = 0x400, cs: UInt64 = 0x410, ss: UInt64 = 0x420, ds: UInt64 = 0x430
        static let fs: UInt64 = 0x440, gs: UInt64 = 0x450, gdtr: UInt64 = 0x460, idtr: UInt64 = 0x480
        static let cpl: UInt64 = 0x4cb
        static let efer: UInt64 = 0x4d0
        static let cr4: UInt64 = 0x548, cr3: UInt64 = 0x550, cr0: UInt64 = 0x558
        static let dr7: UInt64 = 0x560, dr6: UInt64 = 0x568
        static let rflags: UInt64 = 0x570, rip: UInt64 = 0x578, rsp: UInt64 = 0x5d8, rax: UInt64 = 0x5f8
        static let cr2: UInt64 = 0x640, gPat: UInt64 = 0x668
    }

    /// The PAT value at reset: legal for every check.
    static let patDefault: UInt64 = 0x0007_0406_0007_0406

    /// The plan's `mem` writes for one page: zero it, then each field (non-zero fields only).
    static func writes(_ v: Vmcb, page: UInt64) -> [String] {
        var w = ["zero=\(KvmPlan.hex(page)):0x1000"]
        func put(_ width: Int, _ off: UInt64, _ value: UInt64) {
            if value != 0 { w.append("w\(width)=\(KvmPlan.hex(page + off)):\(KvmPlan.hex(value))") }
        }
        let c = v.control
        put(32, Control.interceptExceptions, UInt64(c.intercepts.exceptions))
        put(32, Control.interceptWord3, c.intercepts.misc & 0xffff_ffff)
        put(32, Control.interceptWord4, c.intercepts.misc >> 32)
        put(64, Control.iopmBasePa, c.iopmBasePa)
        put(64, Control.msrpmBasePa, c.msrpmBasePa)
        put(32, Control.asid, UInt64(c.asid))
        put(32, Control.intCtl, UInt64(c.intCtl))
        put(32, Control.intState, UInt64(c.intState))
        put(64, Control.exitCode, c.exitCode)
        put(64, Control.exitInfo1, c.exitInfo1)
        put(64, Control.exitInfo2, c.exitInfo2)
        put(64, Control.nestedCtl, c.miscCtl)
        put(32, Control.eventInj, UInt64(c.eventInj))
        put(64, Control.nestedCr3, c.nestedCr3)
        put(64, Control.nextRip, c.nextRip)

        let s = v.save
        // Segments: selector (16) | attrib (16) | limit (32), then base (64).
        func segment(_ off: UInt64, selector: UInt16, attrib: UInt16, limit: UInt32) {
            put(64, off, UInt64(selector) | UInt64(attrib) << 16 | UInt64(limit) << 32)
        }
        let csAttrib = s.csAttrib == 0 ? KvmPlan.code64Attrib : s.csAttrib
        segment(Save.cs, selector: KvmPlan.codeSelector, attrib: csAttrib, limit: 0xffff_ffff)
        for off in [Save.es, Save.ss, Save.ds, Save.fs, Save.gs] {
            segment(off, selector: KvmPlan.dataSelector, attrib: KvmPlan.dataAttrib, limit: 0xffff_ffff)
        }
        put(32, Save.gdtr + 4, 0x2f)
        put(64, Save.gdtr + 8, KvmPlan.gdtBase)
        put(32, Save.idtr + 4, 0xfff)
        put(64, Save.idtr + 8, KvmPlan.idtBase)
        put(8, Save.cpl, UInt64(s.cpl))
        put(64, Save.efer, s.efer)
        put(64, Save.cr4, s.cr4)
        put(64, Save.cr3, s.cr3)
        put(64, Save.cr0, s.cr0)
        put(64, Save.dr7, s.dr7)
        put(64, Save.dr6, s.dr6)
        put(64, Save.rflags, s.rflags)
        put(64, Save.rip, s.rip)
        put(64, Save.rsp, s.rsp)
        put(64, Save.rax, s.rax)
        put(64, Save.cr2, s.cr2)
        put(64, Save.gPat, patDefault)
        return w
    }
}
