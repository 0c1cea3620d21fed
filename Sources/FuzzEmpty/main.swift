// An empty libFuzzer target built with the same flags as FuzzSVM: the benchmark's speed reference.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEmptyTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    return 0
}
