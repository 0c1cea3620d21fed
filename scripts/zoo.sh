#!/usr/bin/env bash
# The bug-zoo benchmark: for each zoo-* variant, libFuzzer from an empty corpus with N seeds and a
# time budget each; reports how many seeds found the bug, the median executions and seconds to the
# first violation over all seeds (a seed that missed counts as longer than the budget, so the median
# is ">S" when half or more missed), the invariants that fired, and the length (in operations) of
# the first finding after minimization. Prints a Markdown table on stdout, progress on stderr.
# With --runs N each seed also stops after N executions: executions to find are then the same for a
# given seed on any machine, however loaded (libFuzzer is deterministic for a -seed on one worker).
# A violation that the artifact also shows on `merged` (other than a known issue) is not the zoo bug:
# it is counted under "merged finding" (the seed ends there, as libFuzzer stops at the first crash).
#   scripts/zoo.sh [--seeds N] [--seconds S] [--runs N] [--jobs J] [--quick] [--variants "zoo-B01 zoo-B08 ..."]
# Defaults: 5 seeds x 300 s, J = number of CPUs (seeds of all variants share the J slots).
# --quick: 2 seeds x 20 s. Known issues (corpus/known-issues.txt) are skipped as in scripts/fuzz.sh.
# Work files: .fuzz/zoo/ (scripts/bench.sh runs this and reads the table and each
# .fuzz/zoo/<variant>/result-<seed> line for its chart, and replays corpus-<seed> for coverage).
source "$(dirname "$0")/lib.sh"
args="$*"
seeds=5 seconds=300 runs="" variants="" jobs="$(nproc 2>/dev/null || echo 1)"
while [ $# -gt 0 ]; do
    case "$1" in
        --seeds) seeds="${2:?--seeds needs a number}"; shift 2 ;;
        --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
        --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
        --jobs) jobs="${2:?--jobs needs a number}"; shift 2 ;;
        --quick) seeds=2 seconds=20; shift ;;
        --variants) variants="${2:?--variants needs names}"; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
for n in $seeds $seconds $jobs $runs; do [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -gt 0 ] || die "'$n' is not a positive number"; done

SVMFUZZ="$(svmfuzz_bin)"
bin="$("$ROOT/scripts/build-fuzz.sh" FuzzSVM)"
[ -n "$variants" ] || variants="$("$SVMFUZZ" variants --names | grep '^zoo-' | tr '\n' ' ')"
for v in $variants; do check_variant "$v"; done

work="$ROOT/.fuzz/zoo"
mkdir -p "$work"

# One seed of one variant; writes "found|merged|missed <execs> <seconds> <invariant> <artifact>" to
# $work/<variant>/result-<seed>.
run_seed() {
    local v="$1" s="$2" dir="$work/$1"
    mkdir -p "$dir/corpus-$s" "$dir/art-$s"
    local t0 t1 art n secs id
    t0="$(date +%s.%N)"
    SVMFUZZ_KNOWN="$ROOT/corpus/known-issues.txt" SVMFUZZ_VARIANT="$v" "$bin" \
        -artifact_prefix="$dir/art-$s/" -print_final_stats=1 -dict="$ROOT/corpus/svm.dict" -max_len=256 \
        -max_total_time="$seconds" ${runs:+-runs="$runs"} -seed="$s" "$dir/corpus-$s" >"$dir/log-$s" 2>&1 || true
    t1="$(date +%s.%N)"
    art="$(ls "$dir/art-$s"/crash-* 2>/dev/null | head -n 1 || true)"
    n="$(grep -oE "stat::number_of_executed_units: [0-9]+" "$dir/log-$s" | tail -n 1 | grep -oE "[0-9]+$" || true)"
    secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')"
    # The artifact is a merged finding when the fuzz target itself, run once on it as `merged` with the
    # same known issues, stops at a violation (a known issue on merged does not count).
    local on_merged=0
    if [ -n "$art" ] && ! SVMFUZZ_KNOWN="$ROOT/corpus/known-issues.txt" SVMFUZZ_VARIANT=merged "$bin" "$art" >/dev/null 2>&1; then
        on_merged=1
    fi
    if [ -z "$art" ]; then
        echo "missed ${n:-0} $secs - -" >"$dir/result-$s"
    elif [ "$on_merged" = 1 ]; then
        echo "merged ${n:-0} $secs - $art" >"$dir/result-$s"
    else
        id="$(grep -oE "^VIOLATION [^ ]+" "$dir/log-$s" | head -n 1 | cut -d' ' -f2 || true)"
        echo "found ${n:-0} $secs ${id:-crash} $art" >"$dir/result-$s"
    fi
    echo "zoo.sh: $v seed $s: $(cut -d' ' -f1,3 "$dir/result-$s")s" >&2
}

started="$(date -u '+%Y-%m-%d %H:%M')"
# The (variant, seed) pairs, at most $jobs at a time.
for v in $variants; do rm -rf "${work:?}/$v"; mkdir -p "$work/$v"; done
running=0
for v in $variants; do
    for s in $(seq 1 "$seeds"); do
        run_seed "$v" "$s" &
        running=$((running + 1))
        if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
    done
done
wait

# The median over all seeds of the sorted found-seed values on stdin (the lower middle one for an
# even count), a missed seed counting as above every found one: ">$1" when half or more missed.
median_or_more() {
    awk -v n="$seeds" -v more=">$1" '{a[NR]=$1} END {
        k = int((n + 1) / 2); if (NR < k) print more; else print a[k] }'
}

table="$work/table.md"
{
echo "| bug | variant | found | median execs | median s | invariant | minimized ops | merged finding |"
echo "|---|---|---|---|---|---|---|---|"
for v in $variants; do
    dir="$work/$v"
    found="$(cat "$dir"/result-* | grep -c "^found" || true)"
    other="$(cat "$dir"/result-* | grep -c "^merged" || true)"
    mexecs="$(grep -h "^found" "$dir"/result-* | awk '{print $2}' | sort -g | median_or_more "${runs:-budget}" || true)"
    msecs="$(grep -h "^found" "$dir"/result-* | awk '{print $3}' | sort -g | median_or_more "$seconds" || true)"
    inv="$(grep -h "^found" "$dir"/result-* | awk '{print $4}' | sort | uniq -c | sort -rn | awk '{print $2}' | paste -sd, - || true)"
    first="$(for s in $(seq 1 "$seeds"); do grep -h "^found" "$dir/result-$s" 2>/dev/null; done | head -n 1 | awk '{print $5}' || true)"
    ops="-"
    if [ -n "$first" ] && "$ROOT/scripts/minimize.sh" "$first" --variant "$v" -o "$dir/min.svm" >/dev/null 2>&1; then
        ops="$(grep -cvE '^\s*(#|$|config )' "$dir/min.svm" || true)"
    fi
    [ "$found" -gt 0 ] || mexecs="-"
    echo "| ${v#zoo-} | $v | $found/$seeds | $mexecs | $msecs | ${inv:--} | $ops | $other |"
done
} >"$table"
cat "$table"

# bench/zoo.md: the table with when, how and where it was made.
mkdir -p "$ROOT/bench"
{
    echo "Run $started to $(date -u '+%H:%M') UTC: \`scripts/zoo.sh${args:+ $args}\` ($seeds seeds x $seconds s${runs:+ or $runs executions}, $jobs jobs),"
    echo "$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//')."
    echo
    cat "$table"
} >"$ROOT/bench/zoo.md"
