// The vmcb12 fields a `vmcb` operation can set, by the field id of the byte encoding's edit list
// (ids in this order; the most consequential first, since an edit byte picks id (b & 0x7f) % legacyCount).
// Fields added after the encoding was fixed take ids from the top of the id space (`code`), so that
// every stored input keeps its meaning (VmcbField.decode).

import SVMModel

enum VmcbField: UInt8, CaseIterable {
    case efer, cr0, cr3, cr4
    case interceptMisc
    /// Decode-only: toggles InterceptSet.named[b % count]; the encoder uses interceptMisc/interceptExceptions.
    case interceptToggle
    case asid, msrpm, iopm, intCtl, miscCtl, ncr3
    case rip, rsp, rax, rflags, cpl, cr2
    case interceptExceptions, exitCode, exitInfo1, exitInfo2, nextRip
    case csAttrib
    case eventInj, intState
    case dr6, dr7

    static let count = UInt8(allCases.count)
    /// The fields the edit byte's id wrapped over before dr6/dr7 were added.
    static let legacyCount: UInt8 = 26

    /// The field id in the edit byte (bits 0-6).
    var code: UInt8 {
        switch self {
        case .dr6: return 0x7e
        case .dr7: return 0x7f
        default: return rawValue
        }
    }

    /// The field an edit byte names: ids 0x7e and 0x7f are DR6 and DR7, every other id wraps over the
    /// original fields as it always did.
    @inline(__always) static func decode(_ b: UInt8) -> VmcbField {
        let id = b & 0x7f
        if id == 0x7e { return .dr6 }
        if id == 0x7f { return .dr7 }
        return VmcbField(rawValue: id % legacyCount) ?? .efer
    }

    var table: ValueTable {
        switch self {
        case .efer: return .efer
        case .cr0: return .cr0
        case .cr3, .ncr3: return .cr3
        case .cr4: return .cr4
        case .interceptMisc, .interceptToggle: return .interceptMisc
        case .asid: return .asid
        case .msrpm: return .msrpmGpa
        case .iopm: return .iopmGpa
        case .intCtl: return .intCtl
        case .miscCtl: return .miscCtl
        case .rip, .rsp, .rax, .exitInfo1, .exitInfo2, .nextRip: return .general
        case .rflags: return .rflags
        case .cpl: return .cpl
        case .cr2: return .cr2
        case .interceptExceptions: return .interceptExceptions
        case .exitCode: return .exitCode
        case .csAttrib: return .csAttrib
        case .eventInj: return .eventInj
        case .intState: return .bool
        case .dr6: return .dr6
        case .dr7: return .dr7
        }
    }

    func get(_ v: Vmcb) -> UInt64 {
        switch self {
        case .efer: return v.save.efer
        case .cr0: return v.save.cr0
        case .cr3: return v.save.cr3
        case .cr4: return v.save.cr4
        case .interceptMisc, .interceptToggle: return v.control.intercepts.misc
        case .asid: return UInt64(v.control.asid)
        case .msrpm: return v.control.msrpmBasePa
        case .iopm: return v.control.iopmBasePa
        case .intCtl: return UInt64(v.control.intCtl)
        case .miscCtl: return v.control.miscCtl
        case .ncr3: return v.control.nestedCr3
        case .rip: return v.save.rip
        case .rsp: return v.save.rsp
        case .rax: return v.save.rax
        case .rflags: return v.save.rflags
        case .cpl: return UInt64(v.save.cpl)
        case .cr2: return v.save.cr2
        case .interceptExceptions: return UInt64(v.control.intercepts.exceptions)
        case .exitCode: return v.control.exitCode
        case .exitInfo1: return v.control.exitInfo1
        case .exitInfo2: return v.control.exitInfo2
        case .nextRip: return v.control.nextRip
        case .csAttrib: return UInt64(v.save.csAttrib)
        case .eventInj: return UInt64(v.control.eventInj)
        case .intState: return UInt64(v.control.intState)
        case .dr6: return v.save.dr6
        case .dr7: return v.save.dr7
        }
    }

    /// Sets the field, truncating to its width.
    func set(_ v: inout Vmcb, _ x: UInt64) {
        switch self {
        case .efer: v.save.efer = x
        case .cr0: v.save.cr0 = x
        case .cr3: v.save.cr3 = x
        case .cr4: v.save.cr4 = x
        case .interceptMisc: v.control.intercepts.misc = x
        case .interceptToggle:
            let named = InterceptSet.named
            let s = named[Int(x % UInt64(named.count))].1
            if v.control.intercepts.contains(s) { v.control.intercepts.remove(s) } else { v.control.intercepts.insert(s) }
        case .asid: v.control.asid = UInt32(truncatingIfNeeded: x)
        case .msrpm: v.control.msrpmBasePa = x
        case .iopm: v.control.iopmBasePa = x
        case .intCtl: v.control.intCtl = UInt32(truncatingIfNeeded: x)
        case .miscCtl: v.control.miscCtl = x
        case .ncr3: v.control.nestedCr3 = x
        case .rip: v.save.rip = x
        case .rsp: v.save.rsp = x
        case .rax: v.save.rax = x
        case .rflags: v.save.rflags = x
        case .cpl: v.save.cpl = UInt8(truncatingIfNeeded: x)
        case .cr2: v.save.cr2 = x
        case .interceptExceptions: v.control.intercepts.exceptions = UInt32(truncatingIfNeeded: x)
        case .exitCode: v.control.exitCode = x
        case .exitInfo1: v.control.exitInfo1 = x
        case .exitInfo2: v.control.exitInfo2 = x
        case .nextRip: v.control.nextRip = x
        case .csAttrib: v.save.csAttrib = UInt16(truncatingIfNeeded: x)
        case .eventInj: v.control.eventInj = UInt32(truncatingIfNeeded: x)
        case .intState: v.control.intState = UInt32(truncatingIfNeeded: x)
        case .dr6: v.save.dr6 = x
        case .dr7: v.save.dr7 = x
        }
    }
}
