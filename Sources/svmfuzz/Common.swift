// Shared pieces of the svmfuzz command: bad-input errors, reading programs, variants, colour, tables.

import Foundation
import SVMFuzzKit
import SVMModel
#if canImport(Glibc)
import Glibc
#endif

/// The program operation (Foundation has an `Operation` too).
typealias Operation = SVMFuzzKit.Operation

/// Bad input (unreadable file, malformed .svm, unknown variant, bad option value): `main` prints the
/// message as one line on stderr and exits 2.
struct BadInput: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// An exit status chosen by a subcommand after it printed its result (1: violation, failed expect, ...).
struct Finish: Error {
    var code: Int32
}

// MARK: - Files

enum Files {
    /// The whole file, or BadInput naming the file and the OS's reason.
    static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw BadInput("svmfuzz: cannot read '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw BadInput("svmfuzz: cannot read '\(path)': \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            out += chunk[0..<n]
        }
        return out
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd < 0 { throw BadInput("svmfuzz: cannot write '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw BadInput("svmfuzz: cannot write '\(path)': \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }
}

// MARK: - Programs

/// A program read from a file: `.svm` text, or raw libFuzzer bytes.
struct LoadedProgram {
    enum Format: String, Codable { case svm, bytes }
    var path: String
    var format: Format
    var program: Program
    var bytes: [UInt8]
}

enum Input {
    /// `.svm` text if the name ends in `.svm` or the content is UTF-8 text that parses; otherwise the
    /// bytes of a libFuzzer input (every byte string decodes).
    static func load(_ path: String) throws -> LoadedProgram {
        let bytes = try Files.read(path)
        let text = String(bytes: bytes, encoding: .utf8)
        if path.hasSuffix(".svm") {
            guard let text else { throw BadInput("\(path):1: not UTF-8 text (a .svm file must be text)") }
            return LoadedProgram(path: path, format: .svm, program: try parse(text, path), bytes: bytes)
        }
        if let text, !bytes.isEmpty {
            do {
                let p = try SVMText.parse(text, file: path)
                return LoadedProgram(path: path, format: .svm, program: p, bytes: bytes)
            } catch {
                // Text that is not .svm: most likely a libFuzzer input that happens to be UTF-8.
                if looksLikeSvmText(text) {
                    Output.note("\(error); replaying '\(path)' as libFuzzer bytes (name it .svm to treat it as text)")
                }
            }
        }
        return LoadedProgram(path: path, format: .bytes, program: ByteCodec.decode(bytes), bytes: bytes)
    }

    /// A `.svm` file only.
    static func loadText(_ path: String) throws -> Program {
        let bytes = try Files.read(path)
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            throw BadInput("\(path):1: not UTF-8 text (a .svm file must be text)")
        }
        return try parse(text, path)
    }

    static func parse(_ text: String, _ path: String) throws -> Program {
        do {
            return try SVMText.parse(text, file: path)
        } catch {
            // ParseError's description is `<file>:<line>: <message>`.
            throw BadInput(String(describing: error))
        }
    }

    /// Several lines, mostly letters and spaces: a hand-written file rather than fuzzer bytes.
    private static func looksLikeSvmText(_ text: String) -> Bool {
        let scalars = text.unicodeScalars
        guard scalars.count >= 4 else { return false }
        let plain = scalars.filter { $0 == "\n" || $0 == "\t" || (0x20..<0x7f).contains($0.value) }.count
        return plain == scalars.count && text.contains("\n")
    }
}

// MARK: - Variants

enum VariantNames {
    static var expected: String { Variant.allCases.map(\.rawValue).joined(separator: ", ") }

    static func parse(_ name: String) throws -> Variant {
        guard let v = Variant(rawValue: name) else {
            throw BadInput("svmfuzz: unknown variant '\(name)' (expected one of: \(expected))")
        }
        return v
    }

    static func parse(_ name: String?) throws -> Variant? {
        guard let name else { return nil }
        return try parse(name) as Variant
    }

    /// The variant a run uses: the option, else the file's config line, else the default.
    static func effective(_ option: Variant?, _ program: Program) -> Variant {
        option ?? program.config.variant ?? .default
    }
}

// MARK: - Fixes

enum FixNames {
    static let help = "Change the variant's fix set, after the file's fixes= (e.g. -leave-nested-on-reset,+all; see 'svmfuzz variants')."

    static func parse(_ text: String?) throws -> FixDelta? {
        guard let text else { return nil }
        do { return try FixDelta.parse(text) } catch { throw BadInput("svmfuzz: --fixes: \(error.message)") }
    }

    /// `program` with `delta` applied after its own `fixes=`.
    static func applied(_ delta: FixDelta?, to program: Program) -> Program {
        guard let delta else { return program }
        var p = program
        p.config.fixes = (p.config.fixes ?? FixDelta()).then(delta)
        return p
    }
}

// MARK: - Output

enum Output {
    /// One JSON object on one line, keys sorted: what scripts read instead of the human output.
    static func jsonLine<T: Encodable>(_ value: T) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try enc.encode(value), as: UTF8.self))
    }

    /// ANSI colour only when stdout is a terminal.
    static let colour: Bool = isatty(1) != 0 && getenv("NO_COLOR") == nil

    enum Colour: String {
        case red = "31", green = "32", yellow = "33", bold = "1", dim = "2"
    }

    static func paint(_ s: String, _ c: Colour) -> String {
        colour ? "\u{1b}[\(c.rawValue)m\(s)\u{1b}[0m" : s
    }

    static func verdictColour(_ line: String) -> String {
        if line.hasPrefix("VIOLATION") || line.hasPrefix("EXPECT FAILED") || line.hasPrefix("FOUND") {
            return paint(line, .red)
        }
        if line.hasPrefix("CLEAN") { return paint(line, .green) }
        return line
    }

    static func error(_ message: String) {
        fputs(message + "\n", stderr)
    }

    static func note(_ message: String) {
        fputs("svmfuzz: note: " + message + "\n", stderr)
    }

    static func columnWidths(_ rows: [[String]]) -> [Int] {
        var widths = [Int](repeating: 0, count: rows.map(\.count).max() ?? 0)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        return widths
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    /// Rows padded to their columns' widths (the last column is not padded).
    static func table(_ rows: [[String]], separator: String = "  ") -> [String] {
        let widths = columnWidths(rows)
        guard !widths.isEmpty else { return [] }
        return rows.map { r in
            var line = ""
            for (i, c) in r.enumerated() {
                if i > 0 { line += separator }
                line += i == r.count - 1 ? c : pad(c, widths[i])
            }
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
}

// MARK: - One operation as .svm text

enum OperationText {
    /// The operation's canonical `.svm` line.
    static func of(_ op: Operation) -> String { SVMText.line(op) }
}
