// Field-wise access to the optional-field payloads (set_sregs, set_regs, set_msrs, set_vcpu_events, smram),
// shared by the byte codec, the .svm language and the mutator. Booleans are the values 0 and 1.

import SVMModel

struct PatchField {
    /// The field's name in the .svm language.
    let name: String
    let table: ValueTable
    /// A boolean field written as a bare word instead of name=0/1: words[0] for 0, words[1] for 1
    /// (`pending` / `injected`).
    var words: [String]? = nil
    var isBool: Bool { table == .bool }
}

protocol PatchFields: Hashable {
    static var empty: Self { get }
    static var fields: [PatchField] { get }
    subscript(field i: Int) -> UInt64? { get set }
}

@inline(__always) private func bit(_ b: Bool?) -> UInt64? { b.map { $0 ? 1 : 0 } }

extension SregsPatch: PatchFields {
    static var empty: SregsPatch { SregsPatch() }
    private static let specs = [PatchField(name: "efer", table: .efer), PatchField(name: "cr0", table: .cr0),
                                PatchField(name: "cr2", table: .cr2), PatchField(name: "cr3", table: .cr3),
                                PatchField(name: "cr4", table: .cr4)]
    static var fields: [PatchField] { specs }
    subscript(field i: Int) -> UInt64? {
        get {
            switch i {
            case 0: return efer
            case 1: return cr0
            case 2: return cr2
            case 3: return cr3
            default: return cr4
            }
        }
        set {
            switch i {
            case 0: efer = newValue
            case 1: cr0 = newValue
            case 2: cr2 = newValue
            case 3: cr3 = newValue
            default: cr4 = newValue
            }
        }
    }
}

extension RegsPatch: PatchFields {
    static var empty: RegsPatch { RegsPatch() }
    private static let specs = [PatchField(name: "rip", table: .general), PatchField(name: "rsp", table: .general),
                                PatchField(name: "rax", table: .general), PatchField(name: "rflags", table: .rflags)]
    static var fields: [PatchField] { specs }
    subscript(field i: Int) -> UInt64? {
        get {
            switch i {
            case 0: return rip
            case 1: return rsp
            case 2: return rax
            default: return rflags
            }
        }
        set {
            switch i {
            case 0: rip = newValue
            case 1: rsp = newValue
            case 2: rax = newValue
            default: rflags = newValue
            }
        }
    }
}

extension MsrsPatch: PatchFields {
    static var empty: MsrsPatch { MsrsPatch() }
    private static let specs = [PatchField(name: "efer", table: .efer), PatchField(name: "hsave_pa", table: .hsaveGpa),
                                PatchField(name: "vm_cr", table: .vmCr)]
    static var fields: [PatchField] { specs }
    subscript(field i: Int) -> UInt64? {
        get {
            switch i {
            case 0: return efer
            case 1: return hsavePa
            default: return vmCr
            }
        }
        set {
            switch i {
            case 0: efer = newValue
            case 1: hsavePa = newValue
            default: vmCr = newValue
            }
        }
    }
}

extension EventsPatch: PatchFields {
    static var empty: EventsPatch { EventsPatch() }
    // The exception fields came last (mask bits 5-7), so every stored input keeps its meaning.
    private static let specs = [PatchField(name: "smm", table: .bool), PatchField(name: "smi_pending", table: .bool),
                                PatchField(name: "latched_init", table: .bool), PatchField(name: "triple_fault", table: .bool),
                                PatchField(name: "interrupt", table: .bool),
                                PatchField(name: "exception", table: .exceptionVector),
                                PatchField(name: "injected", table: .bool, words: ["pending", "injected"]),
                                PatchField(name: "error_code", table: .errorCode)]
    static var fields: [PatchField] { specs }
    subscript(field i: Int) -> UInt64? {
        get {
            switch i {
            case 0: return bit(smm)
            case 1: return bit(smiPending)
            case 2: return bit(latchedInit)
            case 3: return bit(tripleFault)
            case 4: return bit(interrupt)
            case 5: return exception.map(UInt64.init)
            case 6: return bit(exceptionInjected)
            default: return errorCode.map(UInt64.init)
            }
        }
        set {
            let b = newValue.map { $0 & 1 != 0 }
            switch i {
            case 0: smm = b
            case 1: smiPending = b
            case 2: latchedInit = b
            case 3: tripleFault = b
            case 4: interrupt = b
            case 5: exception = newValue.map { UInt8(truncatingIfNeeded: $0) }
            case 6: exceptionInjected = b
            default: errorCode = newValue.map { UInt32(truncatingIfNeeded: $0) }
            }
        }
    }
}

extension SmramPatch: PatchFields {
    static var empty: SmramPatch { SmramPatch() }
    private static let specs = [
        PatchField(name: "efer", table: .efer), PatchField(name: "cr0", table: .cr0),
        PatchField(name: "cr3", table: .cr3), PatchField(name: "cr4", table: .cr4),
        PatchField(name: "rip", table: .general), PatchField(name: "rsp", table: .general),
        PatchField(name: "rax", table: .general), PatchField(name: "rflags", table: .rflags),
        PatchField(name: "svm_guest", table: .bool), PatchField(name: "vmcb", table: .vmcbGpa),
    ]
    static var fields: [PatchField] { specs }
    subscript(field i: Int) -> UInt64? {
        get {
            switch i {
            case 0: return efer
            case 1: return cr0
            case 2: return cr3
            case 3: return cr4
            case 4: return rip
            case 5: return rsp
            case 6: return rax
            case 7: return rflags
            case 8: return bit(svmGuest)
            default: return vmcb
            }
        }
        set {
            switch i {
            case 0: efer = newValue
            case 1: cr0 = newValue
            case 2: cr3 = newValue
            case 3: cr4 = newValue
            case 4: rip = newValue
            case 5: rsp = newValue
            case 6: rax = newValue
            case 7: rflags = newValue
            case 8: svmGuest = newValue.map { $0 & 1 != 0 }
            default: vmcb = newValue
            }
        }
    }
}
