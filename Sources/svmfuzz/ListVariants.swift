// svmfuzz variants: the patch variants the model implements.

import ArgumentParser
import SVMFuzzKit
import SVMModel

struct Variants: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the variants: name, upstream reference, what it changes relative to merged.")

    func run() throws {
        let rows = Variant.allCases.map { [$0.rawValue, $0.upstream, $0.summary] }
        for line in Output.table(rows, separator: "   ") { print(line) }
    }
}
