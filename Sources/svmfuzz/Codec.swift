// svmfuzz decode / encode: between raw libFuzzer inputs and .svm text.

import ArgumentParser
import Foundation
import SVMFuzzKit
import SVMModel

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a raw libFuzzer input (e.g. a crash artifact) as .svm text.",
        discussion: "Every byte string decodes to a program, exactly as the fuzz target decodes it. Exit status: 0; 2 when the file cannot be read.")

    @Argument(help: ArgumentHelp("A raw libFuzzer input.", valueName: "bytes-file"))
    var file: String

    func run() throws {
        let bytes = try Files.read(file)
        print(SVMText.print(ByteCodec.decode(bytes)), terminator: "")
    }
}

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a .svm program as a raw libFuzzer input (e.g. to seed a corpus).",
        discussion: """
        The byte encoding has no assertions: expect lines are dropped, with a warning on stderr. \
        Decoding the written bytes gives the program back (without its expect lines). Exit status: 0; \
        2 on bad input.
        """)

    @Argument(help: ArgumentHelp("A .svm program.", valueName: "file.svm"))
    var file: String

    @Option(name: .customShort("o"), help: ArgumentHelp("The file to write the bytes to.", valueName: "bytes-file"))
    var output: String

    func run() throws {
        let program = try Input.loadText(file)
        let bytes = ByteCodec.encode(program)
        let expects = program.operations.filter { if case .expect = $0 { return true } else { return false } }.count
        if expects > 0 {
            Output.error("svmfuzz: warning: \(expects) expect line\(expects == 1 ? "" : "s") dropped (the byte encoding has no assertions)")
        }
        var kept = program
        kept.operations = program.operations.filter { if case .expect = $0 { return false } else { return true } }
        if ByteCodec.decode(bytes) != kept {
            Output.error("svmfuzz: warning: the bytes do not decode to exactly this program; run 'svmfuzz decode \(output)' to see what they hold")
        }
        try Files.write(bytes, to: output)
    }
}
