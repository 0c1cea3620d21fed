// svmfuzz known-issues: the known findings (corpus/known-issues.txt) and where each stands upstream.

import ArgumentParser
import Foundation
import SVMFuzzKit

struct KnownIssuesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "known-issues",
        abstract: "List the known findings campaigns step over, with their upstream status.",
        discussion: """
        Reads corpus/known-issues.txt of the repository above the current directory (or FILE): one \
        violation signature per line with upstream=fixed:<commit>|reported:<where>|not-known. Exit \
        status: 0; 2 when the file is unreadable or a line is malformed (reported as file:line).
        """)

    @Argument(help: "A known-issues file (default corpus/known-issues.txt).")
    var file: String?

    @Flag(help: "Print one JSON object per issue.")
    var json = false

    func run() throws {
        let path = file ?? Repo.root() + "/corpus/known-issues.txt"
        let text = String(decoding: try Files.read(path), as: UTF8.self)
        let issues: [KnownIssue]
        do { issues = try KnownIssues.parse(text, file: path) } catch { throw BadInput("svmfuzz: \(error)") }
        if json {
            struct Row: Encodable { let signature, upstream: String; let line: Int }
            for i in issues { try Output.jsonLine(Row(signature: i.pattern.description, upstream: i.upstream.field, line: i.line)) }
            return
        }
        let table = [["signature", "upstream"]] + issues.map { [$0.pattern.description, $0.upstream.description] }
        for line in Output.table(table, separator: "   ") { print(line) }
    }
}
