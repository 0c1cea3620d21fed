// Architectural and KVM constants the model needs, named as in the kernel headers
// (arch/x86/include/asm/msr-index.h, uapi/asm/svm.h, uapi/linux/kvm.h).

public enum EFER {
    public static let sce: UInt64 = 1 << 0
    public static let lme: UInt64 = 1 << 8
    public static let lma: UInt64 = 1 << 10
    public static let nx: UInt64 = 1 << 11
    public static let svme: UInt64 = 1 << 12
    /// Long-mode segment limit enable: KVM lets a nested-capable guest set it (svm_hardware_setup).
    public static let lmsle: UInt64 = 1 << 13
}

public enum CR0 {
    public static let pe: UInt64 = 1 << 0
    public static let mp: UInt64 = 1 << 1
    public static let em: UInt64 = 1 << 2
    public static let ts: UInt64 = 1 << 3
    public static let et: UInt64 = 1 << 4
    public static let ne: UInt64 = 1 << 5
    public static let wp: UInt64 = 1 << 16
    public static let am: UInt64 = 1 << 18
    public static let nw: UInt64 = 1 << 29
    public static let cd: UInt64 = 1 << 30
    public static let pg: UInt64 = 1 << 31
}

public enum CR4 {
    public static let pae: UInt64 = 1 << 5
    public static let mce: UInt64 = 1 << 6
    public static let fsgsbase: UInt64 = 1 << 16
    public static let pcide: UInt64 = 1 << 17
    public static let osxsave: UInt64 = 1 << 18
    public static let smep: UInt64 = 1 << 20
    public static let smap: UInt64 = 1 << 21
    /// CR4 bits KVM supports on a host with every feature they need (VME..OSXMMEXCPT, FSGSBASE,
    /// PCIDE, OSXSAVE, SMEP, SMAP); anything else is reserved. GuestCpu narrows it to a CPU's CPUID.
    public static let supported: UInt64 = 0x7ff | fsgsbase | pcide | osxsave | smep | smap
}

public enum RFLAGS {
    public static let fixed: UInt64 = 0x2
    public static let tf: UInt64 = 1 << 8
    public static let vm: UInt64 = 1 << 17
}

/// MSR indices the model handles.
public enum MSR {
    public static let efer: UInt32 = 0xC000_0080
    public static let star: UInt32 = 0xC000_0081
    public static let lstar: UInt32 = 0xC000_0082
    public static let cstar: UInt32 = 0xC000_0083
    public static let syscallMask: UInt32 = 0xC000_0084
    public static let fsBase: UInt32 = 0xC000_0100
    public static let gsBase: UInt32 = 0xC000_0101
    public static let kernelGsBase: UInt32 = 0xC000_0102
    public static let tsc: UInt32 = 0x10
    public static let vmCr: UInt32 = 0xC001_0114
    public static let vmHsavePa: UInt32 = 0xC001_0117
}

/// MSR_VM_CR bits (svm.h).
public enum VMCR {
    public static let lock: UInt64 = 1 << 3
    public static let svmDis: UInt64 = 1 << 4
    public static let validMask: UInt64 = 0x1f
}

/// SVM exit codes (uapi/asm/svm.h). For 0x60...0x9f the intercept bit index equals the exit code.
public enum SVMExit {
    public static let exceptionBase: UInt64 = 0x40
    public static let intr: UInt64 = 0x60
    public static let nmi: UInt64 = 0x61
    public static let smi: UInt64 = 0x62
    public static let initSignal: UInt64 = 0x63
    public static let rsm: UInt64 = 0x73
    public static let msr: UInt64 = 0x7c
    public static let shutdown: UInt64 = 0x7f
    public static let vmrun: UInt64 = 0x80
    public static let vmmcall: UInt64 = 0x81
    public static let vmload: UInt64 = 0x82
    public static let vmsave: UInt64 = 0x83
    public static let stgi: UInt64 = 0x84
    public static let clgi: UInt64 = 0x85
    /// SVM_EXIT_SW: the software #VMEXIT svm_enter_smm synthesizes.
    public static let sw: UInt64 = 0xf000_0000
    /// SVM_EXIT_ERR (VMEXIT_INVALID).
    public static let err: UInt64 = 0xffff_ffff_ffff_ffff
}

/// Exception vectors the model injects.
public enum Vector {
    public static let db: UInt8 = 1
    public static let bp: UInt8 = 3
    public static let of: UInt8 = 4
    public static let ud: UInt8 = 6
    public static let gp: UInt8 = 13
    public static let nmi: UInt8 = 2
    public static let pf: UInt8 = 14

    /// x86_exception_has_error_code (arch/x86/kvm/x86.h): the exceptions that push an error code
    /// (#DF, #TS, #NP, #SS, #GP, #PF, #AC; #CP needs a feature the modeled guest lacks).
    public static func hasErrorCode(_ v: UInt8) -> Bool {
        switch v {
        case 8, 10, 11, 12, 13, 14, 17: return true
        default: return false
        }
    }

    /// kvm_exception_is_soft (arch/x86/kvm/x86.h): #BP and #OF, raised by INT3 and INTO.
    public static func isSoft(_ v: UInt8) -> Bool { v == bp || v == of }

    /// nested_svm_event_inj_valid_exept (arch/x86/kvm/svm/nested.c): the architecturally defined
    /// exception vectors (#CP and #VC need CPUID features the modeled guest lacks).
    public static func isDefinedException(_ v: UInt8) -> Bool {
        switch v {
        case 0, 1, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17, 18, 19, 28, 30: return true
        default: return false
        }
    }
}

/// KVM_STATE_NESTED_* flags (uapi/asm/kvm.h).
public enum NestedFlag {
    public static let guestMode: UInt32 = 0x1
    public static let runPending: UInt32 = 0x2
    public static let evmcs: UInt32 = 0x4
    public static let mtfPending: UInt32 = 0x8
    public static let gifSet: UInt32 = 0x100
}

/// The guest-physical address space of the modeled VM.
public enum GuestPhys {
    /// Guest RAM is [0, ramTop): a legal GPA outside it is not backed by a memslot and fails to map.
    public static let ramTop: UInt64 = 0x1_0000_0000
    public static let pageSize: UInt64 = 0x1000
    public static let pageMask: UInt64 = ~(pageSize - 1)
    public static let invalidGpa: UInt64 = ~0
    public static let msrpmSize: UInt64 = 0x2000
    public static let iopmSize: UInt64 = 0x3000

    /// Whether kvm_vcpu_map / kvm_vcpu_read_guest of this GPA succeeds.
    @inline(__always) public static func isMappable(_ gpa: UInt64) -> Bool { gpa < ramTop }
}
