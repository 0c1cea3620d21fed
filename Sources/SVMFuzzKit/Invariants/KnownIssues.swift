// corpus/known-issues.txt: the findings that hold on every variant, each a violation signature that a
// campaign steps over, with where it stands upstream. One line each:
//   <invariant-id> [<reason>] upstream=<status>     (then an optional # comment)
// where <status> is `fixed:<commit>` (12+ hex digits), `reported:<where>` (one word, e.g.
// bugzilla.kernel.org/220964) or `not-known`. `#` starts a comment; blank lines are skipped.

import Foundation

/// Where a known issue stands upstream, as the file states it (with its source).
public enum UpstreamStatus: Hashable, Sendable, CustomStringConvertible {
    /// Fixed by this commit (a fix the modeled tree lacks, e.g. one in a later release).
    case fixed(commit: String)
    /// Known upstream: a bug report or mail thread.
    case reported(String)
    /// No upstream report found; the file's comment says what was searched.
    case notKnown

    /// The field's value (`fixed:<commit>`, `reported:<where>`, `not-known`), or nil.
    public init?(_ text: Substring) {
        if text == "not-known" { self = .notKnown; return }
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let kind = text[..<colon], value = String(text[text.index(after: colon)...])
        switch kind {
        case "fixed":
            guard value.count >= 12, value.allSatisfy(\.isHexDigit) else { return nil }
            self = .fixed(commit: value)
        case "reported":
            guard !value.isEmpty else { return nil }
            self = .reported(value)
        default:
            return nil
        }
    }

    /// The field's value, as written in the file.
    public var field: String {
        switch self {
        case .fixed(let c): return "fixed:" + c
        case .reported(let r): return "reported:" + r
        case .notKnown: return "not-known"
        }
    }

    public var description: String {
        switch self {
        case .fixed(let c): return "fixed upstream by \(c)"
        case .reported(let r): return "known upstream: \(r)"
        case .notKnown: return "not known upstream"
        }
    }
}

/// One entry of the known-issues file.
public struct KnownIssue: Hashable, Sendable {
    public var pattern: ViolationPattern
    public var upstream: UpstreamStatus
    /// The entry's line in its file.
    public var line: Int

    public init(pattern: ViolationPattern, upstream: UpstreamStatus, line: Int) {
        self.pattern = pattern; self.upstream = upstream; self.line = line
    }
}

public enum KnownIssues {
    /// A line that is not an entry: `file:line: what was expected, got 'text'`.
    public struct BadLine: Error, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var text: String
        public var description: String {
            "\(file):\(line): expected `<invariant-id> [<reason>] upstream=fixed:<commit>|reported:<where>|not-known`, got '\(text)'"
        }
    }

    /// Parses the file's text; `file` names it in errors.
    public static func parse(_ text: String, file: String = "known-issues") throws -> [KnownIssue] {
        var out: [KnownIssue] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let body = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let t = body.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            let bad = BadLine(file: file, line: i + 1, text: t)
            var words = t.split(separator: " ", omittingEmptySubsequences: true)
            guard let last = words.popLast(), last.hasPrefix("upstream="),
                  let status = UpstreamStatus(last.dropFirst("upstream=".count)),
                  let pattern = ViolationPattern(Substring(words.joined(separator: " "))) else { throw bad }
            out.append(KnownIssue(pattern: pattern, upstream: status, line: i + 1))
        }
        return out
    }
}
