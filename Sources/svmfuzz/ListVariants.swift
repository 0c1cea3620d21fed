// svmfuzz variants: the variant table (Variant.swift) and the fix names (KvmFixes.swift).

import ArgumentParser
import Foundation
import SVMFuzzKit
import SVMModel

struct Variants: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the variants: name, upstream reference, EFER.SVME policy, fixes missing relative to merged.",
        discussion: """
        Every variant is a set of upstream fixes plus an EFER.SVME policy; 'merged' has every fix. The \
        fix names are those of 'config fixes=+a,-b' and '--fixes +a,-b'; they are listed at the end.
        """)

    @Flag(help: "Print one JSON document instead of the table.")
    var json = false

    @Flag(help: "Print only the variant names, one per line.")
    var names = false

    struct Row: Encodable {
        let name, kind, svmeClear, upstream: String
        let codecIndex: Int
        let missingFixes: [String]
    }

    func run() throws {
        let rows = Variant.allCases.map {
            Row(name: $0.rawValue, kind: $0.kind.rawValue, svmeClear: $0.svmeClear.rawValue, upstream: $0.upstream,
                codecIndex: Int($0.codecIndex), missingFixes: KvmFixes.all.subtracting($0.fixes).names)
        }
        if names {
            for v in Variant.allCases { print(v.rawValue) }
            return
        }
        if json {
            struct Doc: Encodable { let variants: [Row]; let fixes: [String] }
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try enc.encode(Doc(variants: rows, fixes: KvmFixes.named.map(\.name))), as: UTF8.self))
            return
        }
        // The long column last.
        let table = [["variant", "upstream", "svme-clear policy", "fixes missing relative to merged"]]
            + rows.map { [$0.name, $0.upstream, $0.svmeClear, $0.missingFixes.isEmpty ? "-" : $0.missingFixes.joined(separator: ",")] }
        for line in Output.table(table, separator: "   ") { print(line) }
        print("\nfixes: " + KvmFixes.named.map(\.name).joined(separator: ", "))
    }
}
