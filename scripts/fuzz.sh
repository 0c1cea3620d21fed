#!/usr/bin/env bash
# A libFuzzer campaign on one variant.
#   scripts/fuzz.sh [--variant V] [--seconds N | --runs N] [--seed S] [--jobs J] [--empty] [--all] [-- libFuzzer args]
# Builds what it needs, fuzzes from corpus/seeds/ (encoded to bytes) into .fuzz/<variant>/corpus,
# keeps artifacts in findings/<variant>/, skips the findings listed in corpus/known-issues.txt
# (unless --all), and ends with one line:
#   FOUND <invariant> <artifact>      or      CLEAN <execs> execs
source "$(dirname "$0")/lib.sh"
variant=merged seconds="" runs="" seed="" jobs=1 empty=0 known="$ROOT/corpus/known-issues.txt" extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --variant) variant="${2:?--variant needs a name}"; shift 2 ;;
        --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
        --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
        --seed) seed="${2:?--seed needs a number}"; shift 2 ;;
        --jobs) jobs="${2:?--jobs needs a number}"; shift 2 ;;
        --empty) empty=1; shift ;;        # start from an empty corpus instead of the seeds
        --all) known=""; shift ;;         # also report the findings listed in corpus/known-issues.txt
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
for n in $seconds $runs $seed $jobs; do [[ "$n" =~ ^[0-9]+$ ]] || die "'$n' is not a whole number"; done
[ -n "$seconds" ] || [ -n "$runs" ] || seconds=60

SVMFUZZ="$(svmfuzz_bin)"
check_variant "$variant"
bin="$("$ROOT/scripts/build-fuzz.sh" FuzzSVM)"

work="$ROOT/.fuzz/$variant"
findings="$ROOT/findings/$variant"
mkdir -p "$work/corpus" "$findings"
seeds=()
if [ "$empty" = 0 ]; then
    rm -rf "$work/seeds"; mkdir -p "$work/seeds"
    for f in "$ROOT"/corpus/seeds/*.svm; do
        [ -e "$f" ] || continue
        "$SVMFUZZ" encode "$f" -o "$work/seeds/$(basename "${f%.svm}").bin" 2>/dev/null \
            || die "corpus seed $f does not encode"
    done
    seeds=("$work/seeds")
else
    rm -rf "$work/corpus"; mkdir -p "$work/corpus"
fi

args=(-artifact_prefix="$findings/" -print_final_stats=1 -dict="$ROOT/corpus/svm.dict" -max_len=256)
[ -n "$seconds" ] && args+=(-max_total_time="$seconds")
[ -n "$runs" ] && args+=(-runs="$runs")
[ -n "$seed" ] && args+=(-seed="$seed")
[ "$jobs" -gt 1 ] && args+=(-fork="$jobs")
log="$work/last.log"
echo "fuzzing variant $variant with $bin (log: $log)" >&2
set +e
SVMFUZZ_KNOWN="$known" SVMFUZZ_VARIANT="$variant" "$bin" "${args[@]}" ${extra[@]+"${extra[@]}"} "$work/corpus" ${seeds[@]+"${seeds[@]}"} >"$log" 2>&1
rc=$?
set -e
grep -E "^(VIOLATION|#[0-9]+.*(NEW|DONE|pulse))" "$log" | tail -n 3 >&2 || true
artifact="$(grep -oE "Test unit written to [^ ]+" "$log" | tail -n 1 | sed 's/Test unit written to //' || true)"
violation="$(grep -oE "^VIOLATION [^ ]+" "$log" | head -n 1 | cut -d' ' -f2 || true)"
if [ -n "$artifact" ]; then
    sed -n '/^VIOLATION/,/^==[0-9]*==\|^Fatal error\|^SVMFuzzKit\/\|^FuzzSVM\//p' "$log" | grep -v "^==\|^Fatal error" >&2 || true
    echo "FOUND ${violation:-crash} ${artifact#"$ROOT"/}"
    exit 0
fi
if [ "$rc" -ne 0 ]; then
    tail -n 20 "$log" >&2
    die "libFuzzer exited with $rc and no artifact"
fi
execs="$(grep -oE "stat::number_of_executed_units: [0-9]+" "$log" | tail -n 1 | grep -oE "[0-9]+$" || true)"
[ -n "$execs" ] || execs="$(grep -oE "^#[0-9]+" "$log" | tail -n 1 | tr -d '#' || true)"
echo "CLEAN ${execs:-0} execs"
