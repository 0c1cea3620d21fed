# Shared helpers for the scripts (sourced, not run).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLCHAIN_BIN="$(dirname "$(readlink -f "$(command -v swift)")")"
# What the fuzz build instruments for coverage (Package.swift reads it): `model` (the default) only
# SVMModel; `all` every module, as plain `--sanitize=fuzzer` does (kept to compare the two). Each
# has its own scratch folder, so switching does not rebuild the other.
# Not exported: only build-fuzz.sh hands it to SwiftPM (in .build it would change the flags).
SVMFUZZ_COVERAGE="${SVMFUZZ_COVERAGE:-model}"
case "$SVMFUZZ_COVERAGE" in
    model) FUZZ_SCRATCH="$ROOT/.build-fuzz" ;;
    model-edges) FUZZ_SCRATCH="$ROOT/.build-fuzz-edges" ;;
    all) FUZZ_SCRATCH="$ROOT/.build-fuzz-all" ;;
    *) echo "SVMFUZZ_COVERAGE must be model, model-edges or all (got '$SVMFUZZ_COVERAGE')" >&2; exit 2 ;;
esac
# Swift's backtracer swallows the crash signals libFuzzer needs for artifacts (swift-libfuzzer.md §2).
export SWIFT_BACKTRACE=enable=no
# The violation report is printed by the harness itself; symbolizing libFuzzer's stack trace only
# adds ~0.17 s to every finding (measured by scripts/bench.sh).
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-symbolize=0}"

die() { echo "$(basename "$0"): $*" >&2; exit 2; }

# Checks a variant name against `svmfuzz variants --names`. Needs $SVMFUZZ set.
check_variant() {
    local v="$1" known
    known="$("$SVMFUZZ" variants --names | tr '\n' ' ')"
    for k in $known; do [ "$k" = "$v" ] && return 0; done
    die "unknown variant '$v' (expected one of: $known)"
}

# The release svmfuzz command (built on demand).
svmfuzz_bin() {
    (cd "$ROOT" && swift build -c release --product svmfuzz >&2) || die "building svmfuzz failed"
    echo "$ROOT/.build/release/svmfuzz"
}
