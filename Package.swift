// swift-tools-version:5.9
import PackageDescription

// scripts/build-fuzz.sh sets SVMFUZZ_COVERAGE=model for its `--sanitize=fuzzer` build: only
// SVMModel keeps libFuzzer's coverage and cmp instrumentation, so the edges libFuzzer collects,
// clears and weighs every execution are the model's behaviour, not the codec, executor,
// invariants, harness or mutator (an empty `-sanitize=` after SwiftPM's turns swiftc's off for
// that module; libFuzzer is still linked through the product's --sanitize=fuzzer).
let coverage = Context.environment["SVMFUZZ_COVERAGE"] ?? "all"
let uninstrumented: [SwiftSetting] = coverage == "all" ? [] : [.unsafeFlags(["-sanitize="])]
// `model-edges`: the model's edges without the cmp callbacks (trace-cmp), spelled out because any
// -sanitize-coverage replaces -sanitize=fuzzer's default set (shared/reference/swift-libfuzzer.md §1).
let modelCoverage: [SwiftSetting] =
    coverage == "model-edges" ? [.unsafeFlags(["-sanitize-coverage=edge,inline-8bit-counters,pc-table"])] : []

let package = Package(
    name: "svmfuzz",
    products: [
        .library(name: "SVMModel", targets: ["SVMModel"]),
        .library(name: "SVMFuzzKit", targets: ["SVMFuzzKit"]),
        .executable(name: "svmfuzz", targets: ["svmfuzz"]),
        .executable(name: "FuzzSVM", targets: ["FuzzSVM"]),
        .executable(name: "FuzzEmpty", targets: ["FuzzEmpty"]),
        .executable(name: "svm-bench", targets: ["svm-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // The emulated vCPU core: KVM's nested SVM logic, no I/O, no randomness.
        .target(name: "SVMModel", swiftSettings: modelCoverage),
        // Programs, the .svm language, the byte codec, the executor, invariants, minimizer, mutator.
        .target(name: "SVMFuzzKit", dependencies: ["SVMModel"], swiftSettings: uninstrumented),
        // Weak declaration of LLVMFuzzerMutate so plain `swift build` links.
        .target(name: "CFuzzSupport"),
        // libFuzzer entry point; build with scripts/build-fuzz.sh (SwiftPM --sanitize=fuzzer).
        .executableTarget(name: "FuzzSVM", dependencies: ["SVMFuzzKit", "CFuzzSupport"], swiftSettings: uninstrumented),
        // An empty libFuzzer target built with the same flags: the benchmark's speed reference.
        .executableTarget(name: "FuzzEmpty"),
        .executableTarget(name: "svmfuzz", dependencies: [
            "SVMFuzzKit",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "svm-bench", dependencies: ["SVMModel", "SVMFuzzKit"]),
        .testTarget(name: "SVMModelTests", dependencies: ["SVMModel"]),
        .testTarget(name: "SVMFuzzKitTests", dependencies: ["SVMFuzzKit"]),
        .testTarget(name: "svmfuzzTests", dependencies: ["SVMFuzzKit"]),
    ]
)
