// libFuzzer entry point. Build with scripts/build-fuzz.sh (SwiftPM's --sanitize=fuzzer); this file
// holds declarations only, because libFuzzer provides main().

import CFuzzSupport
import SVMFuzzKit
#if canImport(Glibc)
import Glibc
#endif

/// The variant under test, from SVMFUZZ_VARIANT (read once).
let harness: FuzzHarness = {
    let name = getenv("SVMFUZZ_VARIANT").map { String(cString: $0) }
    guard let variant = FuzzHarness.variant(fromEnvironmentValue: name) else {
        fputs("FuzzSVM: unknown SVMFUZZ_VARIANT '\(name ?? "")'\n", stderr)
        exit(2)
    }
    // SVMFUZZ_KNOWN names a known-issues file (scripts/fuzz.sh passes corpus/known-issues.txt).
    var known: [ViolationPattern] = []
    if let path = getenv("SVMFUZZ_KNOWN").map({ String(cString: $0) }), !path.isEmpty {
        guard let f = fopen(path, "r") else {
            fputs("FuzzSVM: cannot read SVMFUZZ_KNOWN file '\(path)'\n", stderr)
            exit(2)
        }
        var text = ""
        var buf = [CChar](repeating: 0, count: 4096)
        while fgets(&buf, Int32(buf.count), f) != nil { text += String(cString: buf) }
        fclose(f)
        do {
            known = try FuzzHarness.parseKnownIssues(text, file: path)
        } catch {
            fputs("FuzzSVM: \(error)\n", stderr)
            exit(2)
        }
    }
    return FuzzHarness(variant: variant, known: known)
}()

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

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>,
                           _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    // Hand the crash signals back to libFuzzer, so a violation leaves a crash-* artifact even
    // without SWIFT_BACKTRACE=enable=no (reference/swift-libfuzzer.md §2).
    for s in [SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV] { signal(s, SIG_DFL) }
    fputs("FuzzSVM: variant \(harness.variant.rawValue), mutator \(mutatorMode), \(harness.known.count) known issue(s) ignored\n", stderr)
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    if let v = harness.run(bytes) {
        fputs(harness.report(bytes, v) + "\n", stderr)
        fatalError("svmfuzz invariant \(v.id)")
    }
    return 0
}

/// Operation-level mutations (insert, delete, swap, duplicate, tweak one field) keep inputs
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
        let n = OperationMutator.mutate(data, size: size, maxSize: maxSize, seed: seed >> 1)
        if n >= 0 { return n }
    }
    return LLVMFuzzerMutate(data, size, maxSize)
}

@_cdecl("LLVMFuzzerCustomCrossOver")
public func fuzzCustomCrossOver(_ data1: UnsafePointer<UInt8>, _ size1: Int, _ data2: UnsafePointer<UInt8>, _ size2: Int,
                                _ out: UnsafeMutablePointer<UInt8>, _ maxOutSize: Int, _ seed: UInt32) -> Int {
    OperationMutator.crossOver(data1, size1: size1, data2, size2: size2, out: out, maxOutSize: maxOutSize, seed: seed)
}
