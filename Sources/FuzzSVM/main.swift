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
    return FuzzHarness(variant: variant)
}()

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>,
                           _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    // Hand the crash signals back to libFuzzer, so a violation leaves a crash-* artifact even
    // without SWIFT_BACKTRACE=enable=no (reference/swift-libfuzzer.md §2).
    for s in [SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV] { signal(s, SIG_DFL) }
    fputs("FuzzSVM: variant \(harness.variant.rawValue)\n", stderr)
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
