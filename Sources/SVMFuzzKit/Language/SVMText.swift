// The .svm text form of programs (issue 3 §1): parse with file:line errors, print canonically.

import SVMModel

public enum SVMText {
    /// Parses a program; every malformed input is a ParseError naming the line and what was expected.
    public static func parse(_ text: String, file: String) throws -> Program {
        var program = Program()
        var lines: [Int] = []
        var lineNumber = 0
        var sawLine = false
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            var content = raw[...]
            if let hash = content.firstIndex(of: "#") { content = content[..<hash] }
            let tokens = content.split(whereSeparator: \.isWhitespace)
            guard !tokens.isEmpty else { continue }
            var r = LineReader(file: file, line: lineNumber, tokens: tokens)
            if tokens[0] == "config" {
                guard !sawLine else { throw r.error("'config' must be the first non-comment line") }
                sawLine = true
                program.config = try parseConfig(&r)
                continue
            }
            sawLine = true
            program.operations.append(try parseOperation(&r))
            lines.append(lineNumber)
        }
        program.lines = lines
        return program
    }

    static func parseConfig(_ r: inout LineReader) throws -> ProgramConfig {
        var cfg = ProgramConfig()
        for (key, value) in try r.fields(SVMNames.configKeys, for: "config") {
            if key == "variant" {
                guard let v = Variant(rawValue: String(value)) else {
                    throw r.error("unknown variant '\(value)' (expected one of: "
                        + Variant.allCases.map(\.rawValue).joined(separator: ", ") + ")")
                }
                cfg.variant = v
                continue
            }
            if key == "fixes" {
                do { cfg.fixes = try FixDelta.parse(value) } catch { throw r.error("config fixes=: " + error.message) }
                continue
            }
            let b = try r.flag(value, key: key)
            switch key {
            case "nested": cfg.nested = b
            case "npt": cfg.npt = b
            case "vgif": cfg.vgif = b
            case "svm": cfg.svm = b
            case "nrips": cfg.nrips = b
            default: cfg.lm = b
            }
        }
        return cfg
    }

    static func parseOperation(_ r: inout LineReader) throws -> Operation {
        let op: Operation
        switch r.name {
        case "wrmsr": op = try parseWrmsr(&r)
        case "vmrun": op = .guest(.vmrun(gpa: try r.operand("a GPA", after: "vmrun", field: "the GPA")))
        case "vmload": op = .guest(.vmload(gpa: try r.operand("a GPA", after: "vmload", field: "the GPA")))
        case "vmsave": op = .guest(.vmsave(gpa: try r.operand("a GPA", after: "vmsave", field: "the GPA")))
        case "vmmcall": op = .guest(.vmmcall)
        case "stgi": op = .guest(.stgi)
        case "clgi": op = .guest(.clgi)
        case "triple_fault": op = .guest(.tripleFault)
        case "rsm": op = .guest(.rsm)
        case "vmcb": return try parseVmcb(&r)
        case "race_vmcb": return .racingVmcb(try parseVmcbFields(&r, for: "race_vmcb"))
        case "msrpm": return try parseMsrpm(&r)
        case "smram": return .smram(try parsePatch(&r, SmramPatch.self))
        case "smi": op = .smi
        case "init": op = .initSignal
        case "signal": op = .signal
        case "run": op = .run
        case "reset": op = .reset
        case "set_sregs": return .setSregs(try parsePatch(&r, SregsPatch.self))
        case "set_regs": return .setRegs(try parsePatch(&r, RegsPatch.self))
        case "set_msrs": return .setMsrs(try parsePatch(&r, MsrsPatch.self))
        case "set_vcpu_events": return .setVcpuEvents(try parsePatch(&r, EventsPatch.self))
        case "set_nested_state": return try parseSetNestedState(&r)
        case "snapshot": op = .snapshot(try r.slot(after: "snapshot"))
        case "restore": return try parseRestore(&r)
        case "expect": return .expect(try parseExpect(&r))
        default:
            throw r.error("unknown operation '\(r.name)' (expected one of: "
                + SVMNames.operations.joined(separator: ", ") + ")")
        }
        try r.end()
        return op
    }

    static func parsePatch<P: PatchFields>(_ r: inout LineReader, _: P.Type) throws -> P {
        var p = P.empty
        let specs = P.fields
        let op = r.name
        for (key, value) in try r.fields(specs.map(\.name), for: op) {
            guard let i = specs.firstIndex(where: { $0.name == key }) else { continue }
            p[field: i] = specs[i].isBool ? (try r.flag(value, key: key) ? 1 : 0)
                : try r.number(value, after: "\(key)=", field: key)
        }
        return p
    }
}
