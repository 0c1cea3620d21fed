// The byte encoding of programs (issue 3 §2): total decoding, a few bytes per operation.
//
// Layout: [config header] operation*
//   config header (optional): 0xc5 C            config byte C
//                             0xc6 C V          config byte C and the variant numbered V (variantFor)
//                             0xc7 C X          config byte C and extension byte X
//                             0xc7 H C X        the same with host byte H (H >= 243)
//                             0xc7 [H] C X Y    either, with second extension byte Y (X & 0x80)
//   C % 243 holds five base-3 digits (least significant first) for nested, npt, vgif, svm, lm:
//   0 = key absent, 1 = key=0, 2 = key=1. X % 3 is the same digit for nrips; X / 3, when nonzero,
//   selects the variant numbered X / 3 - 1. When X & 0x80 (secondExtensionFlag; no stored input has it,
//   X stayed below 0x80), X & 0x7f means that and a second extension byte Y follows: Y % 3 is the
//   digit for fep (kvm.force_emulation_prefix). H - 243 holds two such digits for host_nrips,
//   host_vls (values 9...12 wrap to 0...3). A config byte is never written above 242, so a byte >= 243
//   after 0xc7 is the host byte; it used to mean C % 243, a form the encoder never wrote and no corpus
//   input has. Host byte and second extension byte are independent of each other.
//   Without a header the config is empty.
//   Variants are numbered by Variant.codecIndex (fixed per variant, never by table position).
//   `fixes=` is not encoded: a fuzz input runs on its variant's own fix set (the harness may add one).
//   Any other first byte starts the first operation.
// Operations: one opcode byte (Opcodes.swift) then the payload (OperationDecoder.swift); values are value
// bytes (ValueTables.swift). `encode` skips `expect` operations (the fuzzer never generates them), so
// decode(encode(p)) == p for every program without `expect`, and encode(decode(b)) decodes to decode(b).

import SVMModel

public enum ByteCodec {
    public static let configMagic: UInt8 = 0xc5
    public static let configMagicWithVariant: UInt8 = 0xc6
    public static let configMagicExtended: UInt8 = 0xc7

    static func isConfigMagic(_ b: UInt8) -> Bool { b >= configMagic && b <= configMagicExtended }

    /// The EFER and HSAVE_PA values of the enter-L2 opcode's expansion.
    /// The enter-L2 opcode bytes (the codec's own: they decode to four operations, OperationDecoder).
    static let enterL2Opcode = Opcode.at(0x89, 14)
    public static let enterL2Efer: UInt64 = EFER.sce | EFER.lme | EFER.lma | EFER.nx | EFER.svme
    public static let enterL2Hsave: UInt64 = 0x40000

    /// The operations the enter-L2 opcode expands to: WRMSR EFER (SVME set), WRMSR HSAVE_PA, the default
    /// vmcb12 at `gpa`, VMRUN `gpa`.
    public static func enterL2(vmcb gpa: UInt64) -> [Operation] {
        [.guest(.wrmsr(msr: MSR.efer, value: enterL2Efer)), .guest(.wrmsr(msr: MSR.vmHsavePa, value: enterL2Hsave)),
         .vmcb(gpa: gpa, DefaultVmcb12.value), .guest(.vmrun(gpa: gpa))]
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) -> Program {
        var d = OperationDecoder(bytes)
        var ops: [Operation] = []
        while let op = d.next() { ops.append(op) }
        return Program(config: d.config, operations: ops)
    }

    public static func decode(_ bytes: [UInt8]) -> Program {
        bytes.withUnsafeBytes { decode($0) }
    }

    public static func encode(_ program: Program) -> [UInt8] {
        var w = OperationEncoder()
        w.config(program.config)
        w.operations(program.operations)
        return w.bytes
    }

    /// The variant numbered `n`. A number no variant has wraps as it did when the numbering was fixed
    /// (n % 22, the variant count then), so every byte keeps its old meaning except the numbers taken
    /// by variants added since (22 linux-6.1, 23 linux-6.12, 24 zoo-B30; no corpus input uses them).
    static func variantFor(_ n: Int) -> Variant {
        if n < 256, let v = Variant(codecIndex: UInt8(n)) { return v }
        return Variant(codecIndex: UInt8(n % legacyVariantCount))!
    }
    static let legacyVariantCount = 22

    static func decodeConfig(_ c: UInt8) -> ProgramConfig {
        var cfg = ProgramConfig()
        var v = Int(c) % 243
        for key in 0..<5 {
            let digit = v % 3
            v /= 3
            let b: Bool? = digit == 0 ? nil : digit == 2
            switch key {
            case 0: cfg.nested = b
            case 1: cfg.npt = b
            case 2: cfg.vgif = b
            case 3: cfg.svm = b
            default: cfg.lm = b
            }
        }
        return cfg
    }

    /// Applies the extension byte of a 0xc7 header.
    static func decodeExtension(_ x: UInt8, into cfg: inout ProgramConfig) {
        let x = x & ~secondExtensionFlag
        let digit = x % 3
        cfg.nrips = digit == 0 ? nil : digit == 2
        let v = Int(x / 3)
        if v != 0 { cfg.variant = variantFor(v - 1) }
    }

    /// The first value of a host byte (0xc7 H C X).
    static let hostByteBase: UInt8 = 243

    /// Applies the host byte of a 0xc7 header.
    static func decodeHost(_ h: UInt8, into cfg: inout ProgramConfig) {
        let v = Int(h - hostByteBase) % 9
        func digit(_ d: Int) -> Bool? { d == 0 ? nil : d == 2 }
        cfg.hostNrips = digit(v % 3)
        cfg.hostVls = digit(v / 3)
    }

    /// The host byte of `cfg`, or nil when it sets no host key.
    static func hostByte(_ cfg: ProgramConfig) -> UInt8? {
        guard cfg.hostNrips != nil || cfg.hostVls != nil else { return nil }
        func digit(_ b: Bool?) -> Int { b.map { $0 ? 2 : 1 } ?? 0 }
        return hostByteBase + UInt8(digit(cfg.hostVls) * 3 + digit(cfg.hostNrips))
    }

    static func extensionByte(_ cfg: ProgramConfig) -> UInt8 {
        let digit = cfg.nrips.map { $0 ? 2 : 1 } ?? 0
        let v = cfg.variant.map { Int($0.codecIndex) + 1 } ?? 0
        return UInt8(v * 3 + digit) | (cfg.fep != nil ? secondExtensionFlag : 0)
    }

    /// The extension byte's bit saying a second extension byte follows (0xc7 [H] C X Y).
    static let secondExtensionFlag: UInt8 = 0x80

    /// The second extension byte (after an extension byte with bit 7 set).
    static func decodeSecondExtension(_ y: UInt8, into cfg: inout ProgramConfig) {
        let digit = y % 3
        cfg.fep = digit == 0 ? nil : digit == 2
    }

    static func secondExtensionByte(_ cfg: ProgramConfig) -> UInt8 { cfg.fep.map { $0 ? 2 : 1 } ?? 0 }

    static func configByte(_ cfg: ProgramConfig) -> UInt8 {
        var c = 0
        for b in [cfg.lm, cfg.svm, cfg.vgif, cfg.npt, cfg.nested] { c = c * 3 + (b.map { $0 ? 2 : 1 } ?? 0) }
        return UInt8(c)
    }
}
