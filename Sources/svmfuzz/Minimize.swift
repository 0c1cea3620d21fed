// svmfuzz minimize: the operation-level minimizer, without libFuzzer.

import ArgumentParser
import Foundation
import SVMFuzzKit
import SVMModel

struct Minimize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Shrink a program to one from which no operation can be removed, keeping its violation.",
        discussion: """
        Deletes and simplifies operations while the same invariant (the first violation's id) still \
        fails on the variant, and prints the result as .svm text under a header comment. The printed \
        program names the variant in its config line. Exit status: 0; 1 when the program shows no \
        violation on the variant; 2 on bad input.
        """)

    @Argument(help: "A .svm program or a raw libFuzzer input.")
    var file: String

    @Option(help: "The variant to run on (overrides the file's config line; default: the file's, else merged).")
    var variant: String?

    @Option(parsing: .unconditional, help: ArgumentHelp(FixNames.help, valueName: "+a,-b"))
    var fixes: String?

    @Option(name: .customShort("o"), help: ArgumentHelp("Write the minimized program to this file (and only its header line to stdout).", valueName: "out.svm"))
    var output: String?

    @Flag(help: "Print one JSON line (from, to, operations, violation, signature, variant, output, program) instead of text.")
    var json = false

    struct Result: Encodable {
        var file: String
        var variant: String
        var from: Int
        var to: Int
        var violation: String
        /// `<id> [<reason>]`, as corpus/known-issues.txt lists it.
        var signature: String
        var output: String?
        /// The program as .svm text when it was not written to a file.
        var program: String?
    }

    func run() throws {
        let chosen = try VariantNames.parse(variant)
        let delta = try FixNames.parse(fixes)
        let input = try Input.load(file)
        let program = FixNames.applied(delta, to: input.program)
        let used = VariantNames.effective(chosen, program)
        guard var small = Minimizer.minimize(program, variant: used) else {
            Output.error("svmfuzz: \(file) shows no violation on \(used.rawValue): nothing to minimize")
            throw Finish(code: 1)
        }
        small.config.variant = used
        let found = Runner.run(small, variant: used, stopAtFirstViolation: true).violation
        let id = found.map { $0.id.description } ?? "?"
        let header = "# minimized from \(file): \(program.operations.count) → \(small.operations.count) operations, violation \(id) on \(used.rawValue)"
        let text = header + "\n" + SVMText.print(small)
        if let output { try Files.write(text.hasSuffix("\n") ? text : text + "\n", to: output) }
        if json {
            try Output.jsonLine(Result(file: file, variant: used.rawValue, from: program.operations.count,
                                       to: small.operations.count, violation: id,
                                       signature: found.map { $0.code.description } ?? "?", output: output,
                                       program: output == nil ? SVMText.print(small) : nil))
        } else if output != nil {
            print(header)
        } else {
            print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
        }
    }
}
