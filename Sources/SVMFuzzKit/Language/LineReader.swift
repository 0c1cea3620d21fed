// One .svm line being parsed: its tokens, positional operands and key=value fields, with errors that say
// what was expected.

struct LineReader {
    let file: String
    let line: Int
    let tokens: [Substring]
    /// The operation's name (the first token).
    var name: String { String(tokens[0]) }
    private(set) var position = 1

    init(file: String, line: Int, tokens: [Substring]) {
        self.file = file
        self.line = line
        self.tokens = tokens
    }

    func error(_ message: String) -> ParseError { ParseError(file: file, line: line, message: message) }

    var atEnd: Bool { position >= tokens.count }

    mutating func next() -> Substring? {
        guard position < tokens.count else { return nil }
        defer { position += 1 }
        return tokens[position]
    }

    /// The next token, which must be present: `expected <what> after '<after>'`.
    mutating func required(_ what: String, after: String) throws -> Substring {
        guard let t = next() else { throw error("expected \(what) after '\(after)'") }
        return t
    }

    /// Parses a number of at most `bits` bits; `after` names where it stands (`'rip='`, `'vmrun'`) and
    /// `field` what it is for, in the too-large message.
    func number(_ t: Substring, bits: Int = 64, after: String, field: String) throws -> UInt64 {
        switch SVMNumber.parse(t) {
        case .invalid:
            throw error("expected a number after '\(after)', got '\(t)'")
        case .overflow:
            throw error("value \(t) does not fit in 64 bits for \(field)")
        case .value(let v):
            if bits < 64 && v >> UInt64(bits) != 0 {
                throw error("value \(t) does not fit in \(bits) bits for \(field)")
            }
            return v
        }
    }

    /// A positional number operand: `vmrun <gpa>`.
    mutating func operand(_ what: String, after: String, bits: Int = 64, field: String) throws -> UInt64 {
        let t = try required(what, after: after)
        return try number(t, bits: bits, after: after, field: field)
    }

    /// A 0/1 value of a key.
    func flag(_ t: Substring, key: String) throws -> Bool {
        switch t {
        case "0": return false
        case "1": return true
        default: throw error("expected 0 or 1 after '\(key)=', got '\(t)'")
        }
    }

    /// A snapshot slot, A-D (case-insensitive).
    mutating func slot(after: String) throws -> Slot {
        let t = try required("a slot (A-D)", after: after)
        switch t.lowercased() {
        case "a": return .a
        case "b": return .b
        case "c": return .c
        case "d": return .d
        default: throw error("expected a slot (A-D) after '\(after)', got '\(t)'")
        }
    }

    /// The remaining tokens as key=value fields, each key among `keys` and given at most once; `words`
    /// names the bare words the operation also takes, for the error message.
    mutating func fields(_ keys: [String], for op: String, words: String? = nil) throws -> [(key: String, value: Substring)] {
        var out: [(key: String, value: Substring)] = []
        while let t = next() {
            guard let eq = t.firstIndex(of: "="), eq != t.startIndex else {
                throw error("expected key=value\(words.map { " or " + $0 } ?? "") for \(op) (keys: \(keys.joined(separator: ", "))), got '\(t)'")
            }
            let key = String(t[..<eq])
            guard keys.contains(key) else {
                throw error("unknown field '\(key)' for \(op) (expected \(keys.joined(separator: ", ")))")
            }
            guard !out.contains(where: { $0.key == key }) else {
                throw error("duplicate field '\(key)' for \(op)")
            }
            let value = t[t.index(after: eq)...]
            guard !value.isEmpty else { throw error("expected a value after '\(key)='") }
            out.append((key, value))
        }
        return out
    }

    /// Rejects leftover tokens.
    mutating func end() throws {
        if let t = next() { throw error("unexpected '\(t)' after \(name) (it takes no further operands)") }
    }
}
