#!/usr/bin/env bash
# The bug-zoo benchmark: for each zoo-* variant, libFuzzer from an empty corpus with N seeds and a
# time budget each; reports whether the fuzzer found the bug, the median executions and seconds to
# the first violation (over the seeds that found it), the invariant that fired, and the length (in
# operations) of the first finding after minimization. Prints a Markdown table on stdout.
# A violation that the artifact also shows on `merged` is not the zoo bug: it is counted under
# "merged finding" (the seed ends there, as libFuzzer stops at the first crash).
#   scripts/zoo.sh [--seeds N] [--seconds S] [--quick] [--variants "zoo-B01 zoo-B08 ..."]
# Defaults: 5 seeds x 300 s. --quick: 2 seeds x 20 s. Known issues (corpus/known-issues.txt) are
# skipped as in scripts/fuzz.sh. Work files: .fuzz/zoo/.
source "$(dirname "$0")/lib.sh"
seeds=5 seconds=300 variants=""
while [ $# -gt 0 ]; do
    case "$1" in
        --seeds) seeds="${2:?--seeds needs a number}"; shift 2 ;;
        --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
        --quick) seeds=2 seconds=20; shift ;;
        --variants) variants="${2:?--variants needs names}"; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
for n in $seeds $seconds; do [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -gt 0 ] || die "'$n' is not a positive number"; done

SVMFUZZ="$(svmfuzz_bin)"
bin="$("$ROOT/scripts/build-fuzz.sh" FuzzSVM)"
[ -n "$variants" ] || variants="$("$SVMFUZZ" variants | awk '$1 ~ /^zoo-/ {print $1}' | tr '\n' ' ')"
for v in $variants; do check_variant "$v"; done

work="$ROOT/.fuzz/zoo"
mkdir -p "$work"

# median of the numbers on stdin (the lower middle one for an even count)
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }

echo "| bug | variant | found | median execs | median s | invariant | minimized ops | merged finding |"
echo "|---|---|---|---|---|---|---|---|"
for v in $variants; do
    dir="$work/$v"
    rm -rf "$dir"; mkdir -p "$dir"
    found=0 other=0 execs="" secs="" ids="" first=""
    for s in $(seq 1 "$seeds"); do
        mkdir -p "$dir/corpus-$s" "$dir/art-$s"
        t0="$(date +%s.%N)"
        SVMFUZZ_KNOWN="$ROOT/corpus/known-issues.txt" SVMFUZZ_VARIANT="$v" "$bin" \
            -artifact_prefix="$dir/art-$s/" -print_final_stats=1 -dict="$ROOT/corpus/svm.dict" -max_len=256 \
            -max_total_time="$seconds" -seed="$s" "$dir/corpus-$s" >"$dir/log-$s" 2>&1 || true
        t1="$(date +%s.%N)"
        art="$(ls "$dir/art-$s"/crash-* 2>/dev/null | head -n 1 || true)"
        if [ -n "$art" ] && "$SVMFUZZ" replay "$art" --variant merged 2>/dev/null | grep -q "^VIOLATION"; then
            other=$((other + 1))
            echo "zoo.sh: $v seed $s: the finding also violates on merged ($art)" >&2
            art=""
        elif [ -n "$art" ]; then
            found=$((found + 1))
            n="$(grep -oE "stat::number_of_executed_units: [0-9]+" "$dir/log-$s" | tail -n 1 | grep -oE "[0-9]+$" || true)"
            execs+="${n:-0}"$'\n'
            secs+="$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')"$'\n'
            id="$(grep -oE "^VIOLATION [^ ]+" "$dir/log-$s" | head -n 1 | cut -d' ' -f2 || true)"
            ids+="${id:-crash}"$'\n'
            [ -n "$first" ] || first="$art"
        fi
        echo "zoo.sh: $v seed $s: $([ -n "$art" ] && echo "found" || echo "not found")" >&2
    done
    mexecs="$(printf '%s' "$execs" | grep . | median || true)"
    msecs="$(printf '%s' "$secs" | grep . | median || true)"
    inv="$(printf '%s' "$ids" | grep . | sort | uniq -c | sort -rn | awk '{print $2}' | paste -sd, - || true)"
    ops="-"
    if [ -n "$first" ]; then
        if "$ROOT/scripts/minimize.sh" "$first" --variant "$v" -o "$dir/min.svm" >/dev/null 2>&1; then
            ops="$(grep -cvE '^\s*(#|$|config )' "$dir/min.svm" || true)"
        fi
    fi
    echo "| ${v#zoo-} | $v | $found/$seeds | ${mexecs:--} | ${msecs:--} | ${inv:--} | $ops | $other |"
done
