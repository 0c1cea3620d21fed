#!/usr/bin/env bash
# Builds a libFuzzer target with SwiftPM's own --sanitize=fuzzer in .build-fuzz (recipe A1 of
# shared/reference/swift-libfuzzer.md) and checks that the result really is a libFuzzer binary:
# `-Xswiftc -sanitize=fuzzer` silently links a binary that does nothing. SVMFUZZ_COVERAGE (lib.sh,
# read by Package.swift) chooses what gets coverage: `model` (default) only SVMModel, so libFuzzer's
# per-execution work follows the model's behaviour, not the codec, executor, invariants or mutator.
#   scripts/build-fuzz.sh [FuzzSVM|FuzzEmpty]      prints the binary's path
source "$(dirname "$0")/lib.sh"
product="${1:-FuzzSVM}"
cd "$ROOT"
SVMFUZZ_COVERAGE="$SVMFUZZ_COVERAGE" swift build -c release --product "$product" --sanitize=fuzzer \
    --scratch-path "$FUZZ_SCRATCH" >&2 \
    || die "building $product with --sanitize=fuzzer failed"
bin="$FUZZ_SCRATCH/release/$product"
[ -x "$bin" ] || die "$bin was not produced"
# Coverage instrumentation and libFuzzer's driver must both be linked in.
syms="$("$TOOLCHAIN_BIN/llvm-nm" "$bin" 2>/dev/null || true)"
grep -q "__sanitizer_cov_8bit_counters_init" <<<"$syms" || die "$bin has no coverage instrumentation (not built with -sanitize=fuzzer?)"
grep -q "FuzzerDriver" <<<"$syms" || die "$bin does not contain libFuzzer's driver"
# And it must behave like libFuzzer: one run on an empty input prints libFuzzer's banner.
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
: > "$probe/empty"
out="$("$bin" -runs=1 "$probe/empty" 2>&1 || true)"
grep -q "INFO: Seed:\|Running: " <<<"$out" || die "$bin did not run as a libFuzzer binary (output: $(head -c 200 <<<"$out"))"
echo "$bin"
