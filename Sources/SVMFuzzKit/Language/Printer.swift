// Canonical .svm text: one operation per line, `vmcb` with every field, hex for addresses, registers and
// bitmasks; parse(print(p)) == p for every program.

import SVMModel

extension SVMText {
    /// The column trailing comments start at (as in the examples).
    public static let commentColumn = 45

    public static func print(_ program: Program) -> String {
        print(program, comments: [:])
    }

    /// Prints with a trailing `# comment` on the operations whose index is a key of `comments`.
    public static func print(_ program: Program, comments: [Int: String]) -> String {
        var out = ""
        if let c = configLine(program.config) { out += c + "\n" }
        for (i, op) in program.operations.enumerated() {
            var l = line(op)
            if let c = comments[i] {
                l += String(repeating: " ", count: max(1, commentColumn - l.count)) + "# " + c
            }
            out += l + "\n"
        }
        return out
    }

    static func configLine(_ c: ProgramConfig) -> String? {
        guard !c.isEmpty else { return nil }
        var parts = ["config"]
        if let v = c.variant { parts.append("variant=\(v.rawValue)") }
        if let f = c.fixes, !f.isEmpty { parts.append("fixes=\(f.description)") }
        for (key, b) in [("nested", c.nested), ("npt", c.npt), ("vgif", c.vgif), ("svm", c.svm), ("lm", c.lm),
                             ("nrips", c.nrips), ("fep", c.fep), ("host_nrips", c.hostNrips),
                             ("host_vls", c.hostVls)] {
            if let b { parts.append("\(key)=\(b ? 1 : 0)") }
        }
        return parts.joined(separator: " ")
    }

    /// One operation's line, without a newline.
    public static func line(_ op: Operation) -> String { op.spec.print(op) }

    static func patchLine<P: PatchFields>(_ name: String, _ p: P) -> String {
        var parts = [name]
        for (i, f) in P.fields.enumerated() {
            guard let v = p[field: i] else { continue }
            if let words = f.words { parts.append(words[Int(v & 1)]); continue }
            parts.append("\(f.name)=\(f.isBool ? String(v) : SVMNumber.hex(v))")
        }
        return parts.joined(separator: " ")
    }

    /// `head` (the operation and its operands) followed by every vmcb field.
    static func vmcbLine(_ head: [String], _ v: Vmcb) -> String {
        var parts = head
        for (key, field) in SVMNames.vmcbKeys {
            switch key {
            case "intercepts": parts.append("intercepts=\(interceptList(v.control.intercepts))")
            case "np":
                if v.control.miscCtl & ~MiscCtl.enableNp == 0 { parts.append("np=\(v.control.miscCtl)") }
            default:
                guard let field else { continue }
                let x = field.get(v)
                if key == "misc_ctl" {
                    if v.control.miscCtl & ~MiscCtl.enableNp != 0 { parts.append("misc_ctl=\(SVMNumber.hex(x))") }
                } else if !SVMNames.vmcbOptionalKeys.contains(key) || x != field.get(DefaultVmcb12.value) {
                    parts.append("\(key)=\(SVMNames.decimalKeys.contains(key) ? String(x) : SVMNumber.hex(x))")
                }
            }
        }
        return parts.joined(separator: " ")
    }

    static func interceptList(_ s: InterceptSet) -> String {
        var names: [String] = []
        var rest = s
        for (name, bit) in InterceptSet.named where s.contains(bit) {
            names.append(name)
            rest.remove(bit)
        }
        for v in 0..<32 where rest.exceptions & (1 << UInt32(v)) != 0 { names.append("exc:\(v)") }
        for b in 0..<64 where rest.misc & (1 << UInt64(b)) != 0 { names.append("exit:0x\(String(0x60 + b, radix: 16))") }
        return names.isEmpty ? "-" : names.joined(separator: ",")
    }

    static func msrList(_ bits: UInt8) -> String {
        var names: [String] = []
        for i in 0..<8 where bits & (1 << UInt8(i)) != 0 {
            names.append(i < SVMNames.msrs.count ? SVMNames.msrs[i].name : "bit\(i)")
        }
        return names.isEmpty ? "-" : names.joined(separator: ",")
    }

    static func flagList(_ flags: UInt32) -> String {
        guard flags != 0 else { return "0" }
        var parts: [String] = []
        var rest = flags
        for (name, bit) in SVMNames.nestedFlags where flags & bit != 0 {
            parts.append(name)
            rest &= ~bit
        }
        if rest != 0 { parts.append(SVMNumber.hex(UInt64(rest))) }
        return parts.joined(separator: ",")
    }

    static func expectLine(_ e: Expectation) -> String {
        var parts = ["expect"]
        if let x = e.exit { parts.append("exit=\(x)") }
        if let m = e.mode { parts.append("mode=\(m)") }
        if let g = e.gif { parts.append("gif=\(g ? 1 : 0)") }
        if let v = e.efer { parts.append("efer=\(SVMNumber.hex(v))") }
        if let v = e.violation { parts.append("violation=\(v)") }
        if let i = e.ioctl { parts.append("ioctl=\(i)") }
        if let t = e.tripleFault { parts.append("triple_fault=\(t ? 1 : 0)") }
        if let v = e.exitCode { parts.append("exit_code=\(SVMNumber.hex(v))") }
        if let v = e.exitInfo1 { parts.append("exit_info1=\(SVMNumber.hex(v))") }
        if let v = e.exception { parts.append("exception=\(v)") }
        for (key, v) in [("rip", e.rip), ("rsp", e.rsp), ("rax", e.rax), ("rflags", e.rflags)] {
            if let v { parts.append("\(key)=\(SVMNumber.hex(v))") }
        }
        return parts.joined(separator: " ")
    }
}
