// struct vmcb (asm/svm.h), reduced to the fields KVM's nested state handling reads or writes.

/// int_ctl bits (asm/svm.h).
public enum IntCtl {
    public static let vGif: UInt32 = 1 << 9
    public static let vGifEnable: UInt32 = 1 << 25
    /// V_NMI_ENABLE: NMI virtualization for the guest (vNMI).
    public static let vNmiEnable: UInt32 = 1 << 26
}

/// EVENTINJ / EXITINTINFO layout (asm/svm.h SVM_EVTINJ_*).
public enum EventInj {
    public static let vectorMask: UInt32 = 0xff
    public static let typeMask: UInt32 = 7 << 8
    public static let typeIntr: UInt32 = 0 << 8
    public static let typeNmi: UInt32 = 2 << 8
    public static let typeExept: UInt32 = 3 << 8
    public static let typeSoft: UInt32 = 4 << 8
    public static let valid: UInt32 = 1 << 31
    /// Bits 12-30 are reserved; KVM strips them when caching vmcb12.
    public static let reserved: UInt32 = 0x7fff_f000

    /// Whether an EVENTINJ can be delivered: not marked valid, or a defined type whose exception type
    /// carries a vector `takesException` accepts. KVM's nested_svm_check_event_inj and the CPU's VMRUN
    /// differ only in that predicate.
    @inline(__always)
    static func isDeliverable(_ e: UInt32, takesException: (UInt8) -> Bool) -> Bool {
        guard e & valid != 0 else { return true }
        switch e & typeMask {
        case typeIntr, typeNmi, typeSoft: return true
        case typeExept: return takesException(UInt8(e & vectorMask))
        default: return false
        }
    }
}

/// int_state (SVM_INTERRUPT_SHADOW_MASK): the guest is in an STI / MOV SS interrupt shadow.
public enum IntState {
    public static let shadow: UInt32 = 1
}

/// misc_ctl bits (SVM_MISC_ENABLE_NP, formerly SVM_NESTED_CTL_NP_ENABLE).
public enum MiscCtl {
    public static let enableNp: UInt64 = 1 << 0
}

public struct VmcbControl: Hashable, Sendable {
    public var intercepts = InterceptSet()
    public var asid: UInt32 = 0
    public var msrpmBasePa: UInt64 = 0
    public var iopmBasePa: UInt64 = 0
    public var intCtl: UInt32 = 0
    public var miscCtl: UInt64 = 0
    public var nestedCr3: UInt64 = 0
    public var exitCode: UInt64 = 0
    public var exitInfo1: UInt64 = 0
    public var exitInfo2: UInt64 = 0
    public var nextRip: UInt64 = 0
    /// EVENTINJ: the event the CPU delivers to the guest at the next VMRUN.
    public var eventInj: UInt32 = 0
    public var intState: UInt32 = 0
    public init() {}
}

public struct VmcbSave: Hashable, Sendable {
    public var efer: UInt64 = 0
    public var cr0: UInt64 = 0
    public var cr2: UInt64 = 0
    public var cr3: UInt64 = 0
    public var cr4: UInt64 = 0
    public var rflags: UInt64 = RFLAGS.fixed
    public var rip: UInt64 = 0
    public var rsp: UInt64 = 0
    public var rax: UInt64 = 0
    public var cpl: UInt8 = 0
    /// CS attributes in the VMCB's packed form (only L and D/B matter to the model).
    public var csAttrib: UInt16 = 0
    /// DR6 and DR7, at their reset values (APM vol. 2, 13.1): VMRUN refuses nonzero bits 63:32.
    public var dr6: UInt64 = DebugReg.dr6Reset
    public var dr7: UInt64 = DebugReg.dr7Reset
    public init() {}
}

/// Debug-register values the model needs (asm/debugreg.h: DR6_ACTIVE_LOW, DR7_FIXED_1).
public enum DebugReg {
    public static let dr6Reset: UInt64 = 0xffff_0ff0
    public static let dr7Reset: UInt64 = 0x400

    /// kvm_dr6_valid / kvm_dr7_valid (arch/x86/kvm/x86.h): bits 63:32 are reserved and must be zero.
    @inline(__always) public static func isValid(_ dr: UInt64) -> Bool { dr >> 32 == 0 }
}

/// VMCB segment attribute bits (asm/svm.h SVM_SELECTOR_*).
public enum SegAttrib {
    public static let l: UInt16 = 1 << 9
    public static let db: UInt16 = 1 << 10
}

public struct Vmcb: Hashable, Sendable {
    public var control = VmcbControl()
    public var save = VmcbSave()
    public init() {}
}

/// Which of the vCPU's two VMCBs `svm->vmcb` points at.
public enum VmcbSlot: UInt8, Sendable { case vmcb01, vmcb02 }
