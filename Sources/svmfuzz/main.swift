// svmfuzz: replay, decode, encode, minimize, diff and hunt programs against the KVM nested SVM model.
//
// Exit codes: 0 success (clean run, no difference, help); 1 a violation, a failed `expect`, nothing to
// minimize; 2 bad input of any kind (unreadable file, malformed .svm, unknown variant, bad option),
// reported as one line on stderr.

import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct SVMFuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "svmfuzz",
        abstract: "Replay, minimize, compare and hunt for KVM nested SVM programs on the executable model.",
        discussion: """
        Programs are .svm text files or raw libFuzzer inputs (bytes). Exit codes: 0 success; 1 a \
        violation, a failed expect or nothing to minimize; 2 bad input (unreadable file, malformed \
        .svm, unknown variant, bad option), reported as one line on stderr.
        """,
        subcommands: [Replay.self, Decode.self, Encode.self, Minimize.self, Diff.self, Variants.self, Hunt.self,
                      KvmPlanCommand.self, Oracle.self, ExportC.self, Generate.self, OracleMinimize.self,
                      KnownIssuesCommand.self])
}

func runMain() -> Int32 {
    let arguments = Array(CommandLine.arguments.dropFirst())
    do {
        var command = try SVMFuzzCommand.parseAsRoot(arguments)
        try command.run()
        return 0
    } catch let bad as BadInput {
        Output.error(bad.message)
        return 2
    } catch let finish as Finish {
        return finish.code
    } catch let code as ExitCode {
        return code.rawValue
    } catch {
        let code = SVMFuzzCommand.exitCode(for: error)
        if code == .success {
            // --help, help <subcommand>, --version.
            SVMFuzzCommand.exit(withError: error)
        }
        if code == .validationFailure {
            // A usage error: one line, exit 2 like every other kind of bad input.
            let message = SVMFuzzCommand.message(for: error)
                .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("Usage:") && !$0.hasPrefix("See '") }
                .joined(separator: " ")
            let sub = subcommandName(arguments)
            Output.error("svmfuzz\(sub.map { " " + $0 } ?? ""): \(message) (see 'svmfuzz \(sub.map { $0 + " " } ?? "")--help')")
            return 2
        }
        Output.error("svmfuzz: \(SVMFuzzCommand.message(for: error))")
        return code.rawValue == 0 ? 1 : code.rawValue
    }
}

func subcommandName(_ arguments: [String]) -> String? {
    guard let first = arguments.first else { return nil }
    let names = SVMFuzzCommand.configuration.subcommands.map { $0._commandName }
    return names.contains(first) ? first : nil
}

setvbuf(stdout, nil, _IOFBF, 1 << 16)
let status = runMain()
fflush(stdout)
exit(status)
