// A change to a variant's fix set: `+name` adds a fix, `-name` removes one, `all` stands for every upstream
// fix (e.g. `-all,+leave-nested-on-reset`; the unnamed core behaviours stay). Names are the kebab-case ones of KvmFixes.named. Written as
// `config fixes=+a,-b` in .svm programs and as `--fixes +a,-b` on the command line; applied after the
// variant's own set, left to right.

import SVMModel

public struct FixDelta: Hashable, Sendable {
    public private(set) var added: KvmFixes = []
    public private(set) var removed: KvmFixes = []

    public init(adding added: KvmFixes = [], removing removed: KvmFixes = []) {
        add(added)
        remove(removed)
    }

    public mutating func add(_ f: KvmFixes) { added.formUnion(f); removed.subtract(f) }
    public mutating func remove(_ f: KvmFixes) { removed.formUnion(f); added.subtract(f) }

    public var isEmpty: Bool { added.isEmpty && removed.isEmpty }

    /// `fixes` with this change applied.
    public func applied(to fixes: KvmFixes) -> KvmFixes { fixes.union(added).subtracting(removed) }

    /// This change followed by `later`.
    public func then(_ later: FixDelta) -> FixDelta {
        var d = self
        d.add(later.added)
        d.remove(later.removed)
        return d
    }

    /// What the parser expects, for error messages.
    public static var expected: String {
        "a comma-separated list of +name or -name, name one of: all, "
            + KvmFixes.named.map(\.name).joined(separator: ", ")
    }

    /// Parses `+a,-b`; the error names the bad item and what was expected.
    public static func parse(_ text: some StringProtocol) throws(ParseFailure) -> FixDelta {
        var d = FixDelta()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let sign = item.first, sign == "+" || sign == "-" else {
                throw ParseFailure(message: "bad fix change '\(item)' (expected \(expected))")
            }
            let name = item.dropFirst()
            guard let fix = name == "all" ? KvmFixes.upstream : KvmFixes(name: name) else {
                throw ParseFailure(message: "unknown fix '\(name)' (expected \(expected))")
            }
            if sign == "+" { d.add(fix) } else { d.remove(fix) }
        }
        return d
    }

    public struct ParseFailure: Error {
        public let message: String
    }

    /// The canonical text: additions, then removals, each in KvmFixes.named order.
    public var description: String {
        (added.names.map { "+" + $0 } + removed.names.map { "-" + $0 }).joined(separator: ",")
    }
}
