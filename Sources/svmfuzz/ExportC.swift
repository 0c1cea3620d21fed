// svmfuzz export-c: one self-contained C file that replays a program on real KVM and checks every step
// against the model. The engine is the real-KVM runner itself (Sources/svmfuzz-kvm, embedded mode):
// the export is a header, the plan, the model's expectations, then the runner's sources.

import ArgumentParser
import Foundation
import SVMFuzzKit
import SVMModel

struct ExportC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-c",
        abstract: "Print a self-contained C reproducer that checks a program on real KVM against the model.",
        discussion: """
        The C file builds with `gcc -static -o repro repro.c` (KVM UAPI headers only) and runs on an AMD \
        host with kvm_amd nested=1: it replays the program with real ioctls (the runner svmfuzz-kvm, whose \
        sources are read from Sources/svmfuzz-kvm of the repository above the current directory) and \
        compares each step with the model configured as `svmfuzz oracle` does: variant linux-<kernel> \
        (or --variant), on a host without NRIPS and VLS like the oracle's TCG host (--host-nrips and \
        --host-vls for a real AMD host that has them); the guest has no NRIPS. Exit status: 0; 2 on bad input.
        """)

    @Argument(help: "A .svm program or a raw libFuzzer input.")
    var file: String

    @Option(help: "The kernel whose expectations to use: 6.1 or 6.12.")
    var kernel: String = "6.12"

    @Option(help: "The model variant the expectations come from (default: linux-<kernel>).")
    var variant: String?

    @Flag(help: "Expect a host CPU with NextRIP save (kvm_amd nrips=1), as real AMD hosts have.")
    var hostNrips = false

    @Flag(help: "Expect a host CPU with virtual VMLOAD/VMSAVE (kvm_amd vls=1).")
    var hostVls = false

    @Option(help: ArgumentHelp("Expect this guest CPU's MAXPHYADDR and CR4 features: qemu64 (QEMU's TCG CPU) or epyc (48 bits, SMEP, SMAP, ...).", valueName: "cpu"))
    var cpu: String = "qemu64"

    func run() throws {
        guard ["6.1", "6.12"].contains(kernel) else { throw BadInput("svmfuzz: --kernel takes 6.1 or 6.12 (got '\(kernel)')") }
        let model = try variant.map { try VariantNames.parse($0) } ?? OracleModel.variant(ofKernel: kernel)
        let sources = try RunnerSources.load()
        let input = try Input.load(file)
        var program = input.program
        // The model's guest has no NRIPS (as on the oracle's TCG host): the plan hides it from KVM's too.
        program.config.nrips = false
        // The same model `svmfuzz oracle` compares with.
        let oracle = OracleModel(variant: model, hostNrips: hostNrips, hostVls: hostVls, cpu: try OracleModel.cpu(named: cpu))
        let (_, steps) = Observer.run(program, config: oracle.config(program), asKernel: true)
        let source = "model variant \(model.rawValue), guest without NRIPS, host "
            + (hostNrips ? "with" : "without") + " NRIPS and " + (hostVls ? "with" : "without") + " VLS, CPU " + cpu
        var out = header(input, model: model, source: source)
        out += "#define SVMFUZZ_EMBEDDED 1\n\n"
        out += CText.stringConstant("svmfuzz_source", source) + "\n"
        out += CText.stringConstant("svmfuzz_plan", KvmPlan.lower(program, name: file)) + "\n"
        out += expectations(steps)
        out += sources.embedded()
        print(out, terminator: "")
    }

    func header(_ input: LoadedProgram, model: Variant, source: String) -> String {
        let command = (["svmfuzz"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        let text = input.format == .svm ? String(decoding: input.bytes, as: UTF8.self)
            : input.program.operations.map(OperationText.of).joined(separator: "\n")
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        while lines.last?.trimmingCharacters(in: .whitespaces).isEmpty == true { lines.removeLast() }
        let listing = lines.map { " *   " + CText.commentSafe(String($0)) }
        return ([
            "/*",
            " * A reproducer for Linux KVM's nested AMD SVM (kvm_amd), made by svmfuzz.",
            " *",
            " * It replays the svmfuzz program \(CText.commentSafe(input.path)) on /dev/kvm with real ioctls (one VM, one",
            " * vCPU whose guest runs small interpreters that execute the program's instructions at L1, L2 or in",
            " * SMM) and, after each step, compares what KVM did with what the svmfuzz model of KVM predicts.",
            " *",
            " * Made by:  \(CText.commentSafe(command))",
            " * Expected: \(source)\(variant == nil ? " (the model of Linux \(kernel))" : "")",
            " * Needs:    an AMD host (or an SVM-capable VM) with kvm_amd nested=1 (the plan's `config` line",
            " *           below lists the other module parameters it needs), access to /dev/kvm, and root",
            " *           to read kernel warnings from /dev/kmsg.",
            " *",
            " * Build:    gcc -O2 -static -o repro repro.c      (save this file as repro.c; only the KVM UAPI",
            " *           headers <linux/kvm.h> are needed)",
            " * Run:      ./repro [-v] [--timeout-ms N]        (-v: also print each step's JSON record)",
            " * Output:   one line per step, `step N (line L) <op>: ok` or `... FIELD: KVM gave X, expected Y`;",
            " *           kernel warnings logged meanwhile; then `RESULT: KVM behaves as expected` or",
            " *           `RESULT: N differences`. Exit status 0: as expected, 1: differences, 2: could not run.",
            " *",
            " * The program (.svm):",
        ] + listing + [
            " *",
            " * The rest of this file: the plan (the program with every address made concrete), the model's",
            " * expected values per step, then the runner svmfuzz-kvm from svmfuzz's Sources/svmfuzz-kvm",
            " * (plan.h, plan.c, guest.h, runner.c; guest.S as a top-level asm block).",
            " */",
            "",
        ]).joined(separator: "\n") + "\n"
    }

    /// The compared fields (OracleCompare.fieldNames), the model's value of each per step, and the text of
    /// each step.
    func expectations(_ steps: [StepObservation]) -> String {
        var rows: [String] = []
        for (m, fields) in zip(steps, OracleCompare.modelFields(steps)) {
            for name in OracleCompare.fieldNames {
                if let v = fields[name] { rows.append("\t{\(m.step), \(CText.literal(name)), \(CText.literal(v))},") }
            }
        }
        let names = OracleCompare.fieldNames.map(CText.literal).joined(separator: ", ")
        let texts = ["\t0,"] + steps.map { "\t\(CText.literal($0.text))," }
        return """
        /* The fields compared after each step, in report order. */
        static const char *const svmfuzz_fields[] = {\(names)};

        /* The model's value of each compared field after each step. */
        struct svmfuzz_expect {
        \tint step;
        \tconst char *field, *value;
        };
        static const struct svmfuzz_expect svmfuzz_expected[] = {
        \(rows.joined(separator: "\n"))
        };

        /* Each step's operation as the program has it (index: step number). */
        static const char *const svmfuzz_step_text[] = {
        \(texts.joined(separator: "\n"))
        };


        """
    }
}

/// The runner's C sources (Sources/svmfuzz-kvm) of the repository above the current directory.
struct RunnerSources {
    static let dir = "Sources/svmfuzz-kvm"
    static let cFiles = ["plan.h", "plan.c", "guest.h", "runner.c"]
    var files: [String: String]

    static func load() throws -> RunnerSources {
        guard let root = findRoot() else {
            throw BadInput("svmfuzz export-c: no \(dir)/runner.c in the current directory or above (run it inside the svmfuzz repository)")
        }
        var files: [String: String] = [:]
        for name in cFiles + ["guest.S"] {
            files[name] = String(decoding: try Files.read(root + "/" + dir + "/" + name), as: UTF8.self)
        }
        return RunnerSources(files: files)
    }

    /// The nearest directory at or above the current one that holds the runner's sources.
    static func findRoot() -> String? {
        var d = FileManager.default.currentDirectoryPath
        while !d.isEmpty {
            if FileManager.default.fileExists(atPath: d + "/" + dir + "/runner.c") { return d }
            if d == "/" { return nil }
            d = (d as NSString).deletingLastPathComponent
        }
        return nil
    }

    /// The C files without their local includes, then guest.S as a top-level asm block.
    func embedded() -> String {
        var out = ""
        for name in RunnerSources.cFiles {
            out += "/* ---- \(RunnerSources.dir)/\(name) ---- */\n"
            out += withoutLocalIncludes(files[name] ?? "") + "\n"
        }
        return out + asmBlock()
    }

    func withoutLocalIncludes(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#include \"") }
            .joined(separator: "\n")
    }

    /// guest.S, each line quoted, after guest.h's constants as assembler symbols (the assembler, not
    /// the C preprocessor, sees the block).
    func asmBlock() -> String {
        var lines: [String] = []
        for line in (files["guest.h"] ?? "").split(separator: "\n") {
            let words = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            guard words.count == 3, words[0] == "#define" else { continue }
            var value = String(words[2])
            if let c = value.range(of: "/*") { value = String(value[..<c.lowerBound]) }
            lines.append("\t.set \(words[1]), \(value.trimmingCharacters(in: .whitespaces))")
        }
        lines += withoutLocalIncludes(files["guest.S"] ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return "/* ---- \(RunnerSources.dir)/guest.S, with guest.h's constants as assembler symbols ---- */\n__asm__(\n"
            + lines.map { "\t" + CText.literal($0 + "\n") }.joined(separator: "\n") + ");\n"
    }
}

/// C source text: string literals and comments.
enum CText {
    /// A C string literal of s: quotes, backslashes, '?' (trigraphs) and bytes outside ASCII escaped.
    static func literal(_ s: String) -> String {
        var out = "\""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "?"): out += "\\" + String(UnicodeScalar(b))
            case UInt8(ascii: "\n"): out += "\\n"
            case UInt8(ascii: "\t"): out += "\\t"
            case 0x20..<0x7f: out += String(UnicodeScalar(b))
            default: out += String(format: "\\%03o", b)
            }
        }
        return out + "\""
    }

    /// `static const char name[] = ...` with one literal per line of text.
    static func stringConstant(_ name: String, _ text: String) -> String {
        var lines: [String] = [], current = ""
        for c in text {
            current.append(c)
            if c == "\n" { lines.append(current); current = "" }
        }
        if !current.isEmpty || lines.isEmpty { lines.append(current) }
        return "static const char \(name)[] =\n" + lines.map { "\t" + literal($0) }.joined(separator: "\n") + ";\n"
    }

    /// Text that cannot end the comment it is put in.
    static func commentSafe(_ s: String) -> String {
        s.replacingOccurrences(of: "*/", with: "* /").replacingOccurrences(of: "/*", with: "/ *")
    }
}
