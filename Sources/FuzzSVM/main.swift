// libFuzzer entry point. Build with scripts/build-fuzz.sh (SwiftPM's --sanitize=fuzzer); this file
// holds declarations only, because libFuzzer provides main().

import CFuzzSupport
import SVMFuzzKit
import SVMModel
#if canImport(Glibc)
import Glibc
#endif

/// The variant under test: SVMFUZZ_VARIANT, else the executable's name, else `merged`. OSS-Fuzz
/// passes no environment to a target, so there each variant is a copy named `FuzzSVM_<variant>`
/// (`.` spelled `_`: a target name has no dots), built by scripts/oss-fuzz/build.sh.
var harness: FuzzHarness = {
    let exe = CommandLine.arguments.first ?? "FuzzSVM"
    let env = getenv("SVMFUZZ_VARIANT").map { String(cString: $0) }
    let name = env ?? variantName(executable: exe)
    guard let variant = FuzzHarness.variant(fromEnvironmentValue: name) else {
        let source = env != nil ? "SVMFUZZ_VARIANT" : "the executable name \(exe)"
        fputs("FuzzSVM: unknown variant '\(name ?? "")' (from \(source))\n", stderr)
        exit(2)
    }
    // SVMFUZZ_KNOWN names a known-issues file (scripts/fuzz.sh passes corpus/known-issues.txt; set
    // and empty: none). Unset, `<executable>.known` beside the binary is used if there is one.
    var known: [ViolationPattern] = []
    let envKnown = getenv("SVMFUZZ_KNOWN").map { String(cString: $0) }
    let path = envKnown ?? exe + ".known"
    if !path.isEmpty, envKnown != nil || access(path, R_OK) == 0 {
        guard let text = readFile(path) else {
            fputs("FuzzSVM: cannot read known-issues file '\(path)'\n", stderr)
            exit(2)
        }
        do {
            known = try FuzzHarness.parseKnownIssues(text, file: path)
        } catch {
            fputs("FuzzSVM: \(error)\n", stderr)
            exit(2)
        }
    }
    return FuzzHarness(variant: variant, known: known)
}()

/// `FuzzSVM_<variant>` → the variant's name; nil (the default) for any other executable name.
func variantName(executable: String) -> String? {
    let base = executable.split(separator: "/").last.map(String.init) ?? executable
    guard base.hasPrefix("FuzzSVM_") else { return nil }
    let suffix = String(base.dropFirst("FuzzSVM_".count))
    return Variant.allCases.first { String($0.rawValue.map { $0 == "." ? "_" : $0 }) == suffix }?.rawValue ?? suffix
}

/// The whole file as text; nil when it cannot be opened.
func readFile(_ path: String) -> String? {
    guard let f = fopen(path, "r") else { return nil }
    defer { fclose(f) }
    var text = ""
    var buf = [CChar](repeating: 0, count: 4096)
    while fgets(&buf, Int32(buf.count), f) != nil { text += String(cString: buf) }
    return text
}

/// SVMFUZZ_MUTATOR: `mixed` (default) alternates operation-level and byte-level mutations;
/// `ops` uses only the operation-level mutator; `bytes` only libFuzzer's own.
enum MutatorMode { case mixed, ops, bytes }

let mutatorMode: MutatorMode = {
    switch getenv("SVMFUZZ_MUTATOR").map({ String(cString: $0) }) {
    case "ops": return .ops
    case "bytes": return .bytes
    default: return .mixed
    }
}()

/// The whole operations of libFuzzer's -dict= file, which the operation mutator inserts at operation
/// boundaries (OperationDictionary.swift); empty without -dict.
let operationDictionary: OperationDictionary = {
    guard let arg = CommandLine.arguments.last(where: { $0.hasPrefix("-dict=") }) else { return .none }
    let path = String(arg.dropFirst("-dict=".count))
    guard let text = readFile(path) else {
        fputs("FuzzSVM: cannot read dictionary '\(path)'\n", stderr)
        exit(2)
    }
    do {
        return try OperationDictionary.parse(text, file: path)
    } catch {
        fputs("FuzzSVM: \(error)\n", stderr)
        exit(2)
    }
}()

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>,
                           _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    // Hand the crash signals back to libFuzzer, so a violation leaves a crash-* artifact even
    // without SWIFT_BACKTRACE=enable=no (reference/swift-libfuzzer.md §2).
    for s in [SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV] { signal(s, SIG_DFL) }
    fputs("FuzzSVM: variant \(harness.variant.rawValue), mutator \(mutatorMode), \(harness.known.count) known issue(s) ignored, "
          + "\(operationDictionary.entries.count) dictionary operation(s)\n", stderr)
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    if let v = harness.run(bytes) {
        fputs(harness.report(bytes, v) + "\n", stderr)
        // ClusterFuzz names a crash by an `ASSERTION FAILED: <what>` line when there is one, so each
        // violation signature becomes its own bug instead of all sharing this trap's stack.
        fputs("ASSERTION FAILED: svmfuzz \(v.code)\n", stderr)
        fatalError("svmfuzz invariant \(v.id)")
    }
    return 0
}

/// Operation-level mutations (insert a fresh or a dictionary operation, delete, swap, duplicate, tweak one
/// field, flip a config key) keep inputs
/// well-formed programs; libFuzzer's byte mutations find the values in between.
@_cdecl("LLVMFuzzerCustomMutator")
public func fuzzCustomMutator(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    let useOps: Bool
    switch mutatorMode {
    case .ops: useOps = true
    case .bytes: useOps = false
    case .mixed: useOps = seed & 1 == 0
    }
    if useOps {
        let n = OperationMutator.mutate(data, size: size, maxSize: maxSize, seed: seed >> 1, dictionary: operationDictionary)
        if n >= 0 { return n }
    }
    return LLVMFuzzerMutate(data, size, maxSize)
}

@_cdecl("LLVMFuzzerCustomCrossOver")
public func fuzzCustomCrossOver(_ data1: UnsafePointer<UInt8>, _ size1: Int, _ data2: UnsafePointer<UInt8>, _ size2: Int,
                                _ out: UnsafeMutablePointer<UInt8>, _ maxOutSize: Int, _ seed: UInt32) -> Int {
    OperationMutator.crossOver(data1, size1: size1, data2, size2: size2, out: out, maxOutSize: maxOutSize, seed: seed)
}
