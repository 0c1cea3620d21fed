#!/usr/bin/env bash
# The benchmark report: execution speed (FuzzSVM vs an empty target, A/B), time to bug (variants x
# {libFuzzer from empty, libFuzzer from corpus/seeds, svmfuzz hunt} x seeds), reproducer size,
# coverage (scripts/coverage.sh) and memory. Prints Markdown; writes bench/report.md, bench/report.svg.
#   scripts/bench.sh [--quick | --smoke] [--seeds N] [--cap SECONDS] [--fuzz-runs N] [--hunt-runs N]
#                    [--speed-reps N] [--speed-runs N] [--replay-runs N] [--rss-seconds N]
#                    [--variants a,b,c] [--no-coverage] [--out DIR]
# Default: about 6 minutes here: 10 seeds, each time-to-bug run capped at --cap 5 s (libFuzzer stops
# ~1 s past it), so under 15 minutes even if nothing were found. --quick (5 seeds, cap 3 s): about
# 2 minutes.
# --smoke: under a minute after the builds, only checks that everything runs (no coverage).
source "$(dirname "$0")/lib.sh"
cmdline="scripts/bench.sh${*:+ $*}"
mode=default
seeds="" cap="" fuzz_runs="" hunt_runs="" speed_reps="" speed_runs="" replay_runs="" rss_seconds=""
variants="prefix,v1-ignore-in-guest,v2-set-efer" coverage=1 out="$ROOT/bench"
num() { [[ "${2:-}" =~ ^[0-9]+$ ]] && [ "$2" -ge "${3:-1}" ] || die "$1 needs a whole number ≥ ${3:-1} (got '${2:-}')"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) mode=quick; shift ;;
        --smoke) mode=smoke; shift ;;
        --seeds) num "$1" "${2:-}"; seeds="$2"; shift 2 ;;
        --cap) num "$1" "${2:-}"; cap="$2"; shift 2 ;;
        --fuzz-runs) num "$1" "${2:-}"; fuzz_runs="$2"; shift 2 ;;
        --hunt-runs) num "$1" "${2:-}"; hunt_runs="$2"; shift 2 ;;
        --speed-reps) num "$1" "${2:-}"; speed_reps="$2"; shift 2 ;;
        --speed-runs) num "$1" "${2:-}"; speed_runs="$2"; shift 2 ;;
        --replay-runs) num "$1" "${2:-}"; replay_runs="$2"; shift 2 ;;
        --rss-seconds) num "$1" "${2:-}"; rss_seconds="$2"; shift 2 ;;
        --variants) [[ "${2:-}" =~ ^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$ ]] || die "--variants needs a comma-separated list"
                    variants="$2"; shift 2 ;;
        --no-coverage) coverage=0; shift ;;
        --out) [ -n "${2:-}" ] || die "--out needs a directory"; out="$2"; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
# Per-mode defaults; explicit flags win.
case "$mode" in
    default) d=(10 5 5000000 50000000 5 100000 2000 60 20000000) ;;
    quick)   d=(5 3 1000000 10000000 3 30000 1500 20 5000000) ;;
    smoke)   d=(2 2 200000 1000000 1 3000 50 3 1000000); coverage=0 ;;
esac
seeds="${seeds:-${d[0]}}" cap="${cap:-${d[1]}}" fuzz_runs="${fuzz_runs:-${d[2]}}" hunt_runs="${hunt_runs:-${d[3]}}"
speed_reps="${speed_reps:-${d[4]}}" speed_runs="${speed_runs:-${d[5]}}" replay_runs="${replay_runs:-${d[6]}}"
rss_seconds="${rss_seconds:-${d[7]}}" core_ops="${d[8]}"
command -v python3 >/dev/null || die "python3 is needed"

cd "$ROOT"
# Builds can collide with someone editing Sources/ ("modified during the build"): retry a little.
retry() { local i; for i in 1 2 3 4; do "$@" && return 0; sleep 10; done; return 1; }
retry swift build -c release --product svmfuzz >&2 || die "building svmfuzz failed"
SVMFUZZ="$(svmfuzz_bin)"
for v in ${variants//,/ }; do check_variant "$v"; done
retry swift build -c release --product svm-bench >&2 || die "building svm-bench failed"
svm_fuzz="$(retry "$ROOT/scripts/build-fuzz.sh" FuzzSVM)" || die "building FuzzSVM failed"
svm_empty="$(retry "$ROOT/scripts/build-fuzz.sh" FuzzEmpty)" || die "building FuzzEmpty failed"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cov_cmd=""
[ "$coverage" = 1 ] && cov_cmd="$ROOT/scripts/coverage.sh"

exec python3 "$ROOT/scripts/bench.py" --root "$ROOT" --svmfuzz "$SVMFUZZ" --fuzz-svm "$svm_fuzz" \
    --fuzz-empty "$svm_empty" --svm-bench "$ROOT/.build/release/svm-bench" --out "$out" --mode "$mode" \
    --command "$cmdline" --variants "$variants" --seeds "$seeds" --fuzz-runs "$fuzz_runs" \
    --hunt-runs "$hunt_runs" --cap "$cap" --speed-reps "$speed_reps" --speed-runs "$speed_runs" \
    --replay-runs "$replay_runs" --rss-seconds "$rss_seconds" --core-ops "$core_ops" --coverage "$cov_cmd"
