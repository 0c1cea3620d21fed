#!/usr/bin/env bash
# What the fuzzer finds on each EFER.SVME series variant from an EMPTY corpus, with every door the byte
# codec has (KVM_RUN's sync_regs and immediate_exit, the emulator), for the README's results:
#   scripts/series-campaigns.sh [--seconds N] [--seed S] [--variants a,b,...]
# Per variant: `fuzz.sh --variant V --empty --keep-going --seconds N` (libFuzzer fork mode with one
# job, going on past violations; the findings of corpus/known-issues.txt are skipped), then each
# invariant's earliest artifact minimized with `svmfuzz minimize`. Prints a Markdown table (also
# written to bench/series-campaigns.md): variant, what was found, the minimized program. Defaults:
# N=120, S=1, the five series variants (about 10 minutes).
source "$(dirname "$0")/lib.sh"
seconds=120 seed=1 variants="prefix,v1-ignore-in-guest,v2-set-efer,msr-hook,merged"
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
        --seed) seed="${2:?--seed needs a number}"; shift 2 ;;
        --variants) variants="${2:?--variants needs a list}"; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
for n in $seconds $seed; do [[ "$n" =~ ^[0-9]+$ ]] || die "'$n' is not a whole number"; done
SVMFUZZ="$(svmfuzz_bin)"
for v in ${variants//,/ }; do check_variant "$v"; done
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$ROOT/bench"
table="$ROOT/bench/series-campaigns.md"
{
    echo "Latest run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`scripts/series-campaigns.sh --seconds $seconds --seed $seed\`"
    echo "(each variant from an empty corpus for $seconds s, libFuzzer fork mode with one job going on past"
    echo "violations, known issues skipped; revision $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown))."
    echo
    echo "| variant | found | minimized program |"
    echo "|---|---|---|"
} > "$table"
for v in ${variants//,/ }; do
    out="$scratch/$v"
    echo "series-campaigns: $v ($seconds s)" >&2
    "$ROOT/scripts/fuzz.sh" --variant "$v" --empty --keep-going --seconds "$seconds" --seed "$seed" --out "$out" \
        > "$out.verdicts" 2> "$out.err" || { tail -n 5 "$out.err" >&2; die "fuzz.sh failed on $v"; }
    found="" programs=""
    while read -r word inv artifact; do
        if [ "$word" = CLEAN ]; then found="CLEAN ($inv execs)"; continue; fi
        [ "$word" = FOUND ] || continue
        n="$(grep -E "^$inv: [0-9]+ artifact" "$out.err" | grep -oE "[0-9]+" | head -n 1 || true)"
        found+="${found:+<br>}\`$inv\` (${n:-?} artifacts)"
        if "$SVMFUZZ" minimize "$artifact" --variant "$v" -o "$scratch/min.svm" > /dev/null 2>&1; then
            prog="$(grep -v '^#' "$scratch/min.svm" | sed -e 's/ variant=[^ ]*//' -e '/^config$/d' -e 's/ asid=.*//' \
                | paste -sd';' - | sed 's/;/; /g')"
            programs+="${programs:+<br>}\`$inv\`: \`$prog\`"
        else
            programs+="${programs:+<br>}\`$inv\`: (did not replay)"
        fi
    done < "$out.verdicts"
    echo "| \`$v\` | ${found:-nothing} | ${programs:-} |" >> "$table"
done
cat "$table"
