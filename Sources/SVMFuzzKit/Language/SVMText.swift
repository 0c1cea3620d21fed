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
            case "fep": cfg.fep = b
            case "host_nrips": cfg.hostNrips = b
            case "host_vls": cfg.hostVls = b
            default: cfg.lm = b
            }
        }
        return cfg
    }

    static func parseOperation(_ r: inout LineReader) throws -> Operation {
        guard let spec = OperationDescriptions.byName[r.name] else {
            throw r.error("unknown operation '\(r.name)' (expected one of: "
                + SVMNames.operations.joined(separator: ", ") + ")")
        }
        return try spec.parse(&r)
    }

    static func parsePatch<P: PatchFields>(_ r: inout LineReader, _: P.Type) throws -> P {
        var p = P.empty
        let specs = P.fields
        let op = r.name
        // Fields written as a bare word (`pending`, `injected`); the rest are key=value.
        let worded = specs.indices.filter { specs[$0].words != nil }
        if !worded.isEmpty {
            var rest: [Substring] = [r.tokens[0]]
            while let t = r.next() {
                guard let i = worded.first(where: { specs[$0].words!.contains(String(t)) }) else {
                    rest.append(t)
                    continue
                }
                guard p[field: i] == nil else {
                    throw r.error("duplicate '\(specs[i].words!.joined(separator: "/"))' for \(op)")
                }
                p[field: i] = UInt64(specs[i].words!.firstIndex(of: String(t))!)
            }
            r = LineReader(file: r.file, line: r.line, tokens: rest)
        }
        let keys = specs.filter { $0.words == nil }.map(\.name)
        let words = worded.isEmpty ? nil : worded.map { specs[$0].words!.joined(separator: "/") }.joined(separator: ", ")
        for (key, value) in try r.fields(keys, for: op, words: words) {
            guard let i = specs.firstIndex(where: { $0.name == key }) else { continue }
            p[field: i] = specs[i].isBool ? (try r.flag(value, key: key) ? 1 : 0)
                : try r.number(value, bits: specs[i].table.bits, after: "\(key)=", field: key)
        }
        return p
    }
}
