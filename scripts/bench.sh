#!/usr/bin/env bash
# The benchmark report, one command. Each measure with its goal (issue 13) and whether it is met:
#   1. instructions per steady-state execution, FuzzSVM and FuzzEmpty (scripts/instr-per-exec.sh)
#   2. exec/s of FuzzSVM over FuzzEmpty, alternating A/B in the same run
#   3. heap allocations per execution of the target (scripts/harness-cost.sh --allocs), and where
#   4. instructions per operation for programs of 4, 16 and 64 operations (scripts/harness-cost.sh)
#   5. the bug zoo: time to find every zoo bug from an empty corpus, medians over seeds (scripts/zoo.sh)
#   6. line coverage of Sources/SVMModel from a campaign per series variant plus the corpus and the
#      zoo campaigns, and the lines none reaches (scripts/coverage.sh)
#   7. the speed-up on 2 cores: fuzz.sh --workers 2 and libFuzzer -fork=2 (scripts/fork-speedup.sh)
# Writes bench/report.md (printed too), the charts bench/*.png and bench/results.json.
#   scripts/bench.sh [--quick | --smoke] [--out DIR] [--zoo-seeds N] [--zoo-seconds S]
#                    [--zoo-variants "zoo-B01 zoo-B03 ..."] [--campaign-seconds S] [--speed-reps N]
#                    [--no-coverage]
# Default: long (hours on 2 cores): callgrind window 10,000 -> 30,000 execs, zoo 5 seeds x 300 s for
# every bug, a 600 s campaign per series variant. --quick (about 15 minutes): window 1,000 -> 4,000,
# zoo 3 seeds x 60 s, 20 s campaigns, fork-speedup.sh --quick. --smoke (about 2 minutes after the
# builds; CI): tiny windows, two fast zoo bugs, no coverage; only shows that every part runs.
source "$(dirname "$0")/lib.sh"
cmdline="scripts/bench.sh${*:+ $*}"
mode=default out="$ROOT/bench" coverage=1
zoo_seeds="" zoo_seconds="" zoo_variants="" campaign_seconds="" speed_reps=""
num() { [[ "${2:-}" =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ] || die "$1 needs a whole number ≥ 1 (got '${2:-}')"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) mode=quick; shift ;;
        --smoke) mode=smoke; shift ;;
        --out) [ -n "${2:-}" ] || die "--out needs a directory"; out="$2"; shift 2 ;;
        --zoo-seeds) num "$1" "${2:-}"; zoo_seeds="$2"; shift 2 ;;
        --zoo-seconds) num "$1" "${2:-}"; zoo_seconds="$2"; shift 2 ;;
        --zoo-variants) [[ "${2:-}" =~ ^[A-Za-z0-9_-]+(\ [A-Za-z0-9_-]+)*$ ]] || die "--zoo-variants needs space-separated names"
                        zoo_variants="$2"; shift 2 ;;
        --campaign-seconds) num "$1" "${2:-}"; campaign_seconds="$2"; shift 2 ;;
        --speed-reps) num "$1" "${2:-}"; speed_reps="$2"; shift 2 ;;
        --no-coverage) coverage=0; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
# Per-mode budgets; explicit flags win. Fields: callgrind window (from to), svm-bench rounds under
# valgrind (from to), speed repetitions and FuzzSVM runs per repetition, zoo seeds and seconds,
# campaign seconds, fork-speedup.sh arguments.
case "$mode" in
    default) b=(10000 30000 20 60 5 100000 5 300 600); fork_args=() ;;
    quick)   b=(1000 4000 20 60 3 30000 3 60 20); fork_args=(--quick) ;;
    smoke)   b=(200 600 2 6 1 3000 1 10 0); fork_args=(--seconds 3 --reps 1 --bug-variants "")
             coverage=0; zoo_variants="${zoo_variants:-zoo-B16 zoo-B01}" ;;
esac
zoo_seeds="${zoo_seeds:-${b[6]}}" zoo_seconds="${zoo_seconds:-${b[7]}}"
campaign_seconds="${campaign_seconds:-${b[8]}}" speed_reps="${speed_reps:-${b[4]}}"
command -v python3 >/dev/null || die "python3 is needed"
command -v valgrind >/dev/null || { apt-get install -y -q valgrind >&2 || die "valgrind is needed"; }
# The charts: matplotlib from PyPI, pinned.
python3 -c "import matplotlib" 2>/dev/null || python3 -m pip install -q "matplotlib==3.11.2" >&2 \
    || die "installing matplotlib failed"

cd "$ROOT"
# Builds can collide with someone editing Sources/ ("modified during the build"): retry a little.
retry() { local i; for i in 1 2 3 4; do "$@" && return 0; sleep 10; done; return 1; }
retry swift build -c release --product svmfuzz >&2 || die "building svmfuzz failed"
SVMFUZZ="$(svmfuzz_bin)"
[ -z "$zoo_variants" ] || for v in $zoo_variants; do check_variant "$v"; done
retry swift build -c release --product svm-bench >&2 || die "building svm-bench failed"
svm_fuzz="$(retry "$ROOT/scripts/build-fuzz.sh" FuzzSVM)" || die "building FuzzSVM failed"
svm_empty="$(retry "$ROOT/scripts/build-fuzz.sh" FuzzEmpty)" || die "building FuzzEmpty failed"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# bench.py takes its settings as one JSON object (this script is the only flag parser).
str() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }
fork_json="$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' ${fork_args[@]+"${fork_args[@]}"})"
settings="{\"mode\": $(str "$mode"), \"command\": $(str "$cmdline"), \"root\": $(str "$ROOT"), \"out\": $(str "$out"),
  \"svmfuzz\": $(str "$SVMFUZZ"), \"fuzz_svm\": $(str "$svm_fuzz"), \"fuzz_empty\": $(str "$svm_empty"),
  \"svm_bench\": $(str "$ROOT/.build/release/svm-bench"),
  \"instr_from\": ${b[0]}, \"instr_to\": ${b[1]}, \"rounds_from\": ${b[2]}, \"rounds_to\": ${b[3]},
  \"speed_reps\": $speed_reps, \"speed_runs\": ${b[5]}, \"zoo_seeds\": $zoo_seeds, \"zoo_seconds\": $zoo_seconds,
  \"zoo_variants\": $(str "$zoo_variants"), \"campaign_seconds\": $campaign_seconds, \"coverage\": $coverage,
  \"fork_args\": $fork_json}"
exec python3 "$ROOT/scripts/bench.py" "$settings"
