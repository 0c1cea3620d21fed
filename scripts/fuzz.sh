#!/usr/bin/env bash
# A libFuzzer campaign on one variant.
#   scripts/fuzz.sh [--variant V] [--seconds N | --runs N] [--seed S] [--jobs J | --workers W] [--keep-going]
#                   [--empty] [--all] [--out DIR] [-- libFuzzer args]
# Builds what it needs, fuzzes from corpus/seeds/ (encoded to bytes) into .fuzz/<variant>/corpus,
# keeps artifacts in findings/<variant>/, skips the findings listed in corpus/known-issues.txt
# (unless --all), and ends with one line:
#   FOUND <invariant> <artifact>      or      CLEAN <execs> execs
# --jobs J > 1: libFuzzer's -fork=J: J child processes at a time, each fuzzing a sample of the corpus
#   for a short while (1 s, 2 s, ... up to 300 s); their new inputs are merged into the corpus and
#   the first violation ends the campaign as above. CLEAN counts the executions of every finished
#   job (libFuzzer drops the jobs still running at the end). --seed is not passed on: libFuzzer
#   would hand every job the same seed, so they would repeat each other's mutations.
# --workers W > 1: libFuzzer's -jobs=W -workers=W: W independent fuzzing processes for the whole
#   budget, sharing the corpus folder (each picks up the others' new inputs); the first violation
#   any of them reports is the verdict and stops the others. CLEAN sums their executions.
#   Each gets its own seed (--seed S gives S, S+1, ...), through its own wrapper invocation.
# --keep-going: fork mode with -ignore_crashes=1: fuzz for the whole budget, then print one
#   FOUND line per invariant (its earliest artifact; the artifact count on stderr), or CLEAN.
# --out DIR: corpus, seeds, log and artifacts under DIR instead of .fuzz/<variant>, findings/<variant>.
# Before the verdict, stderr gets `stats execs=<n> seconds=<wall> cpu=<user+sys s> jobs=<J>`
# (scripts/fork-speedup.sh reads it).
source "$(dirname "$0")/lib.sh"
variant=merged seconds="" runs="" seed="" jobs=1 workers=1 keep=0 empty=0 out="" known="$ROOT/corpus/known-issues.txt" extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --variant) variant="${2:?--variant needs a name}"; shift 2 ;;
        --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
        --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
        --seed) seed="${2:?--seed needs a number}"; shift 2 ;;
        --jobs) jobs="${2:?--jobs needs a number}"; shift 2 ;;
        --workers) workers="${2:?--workers needs a number}"; shift 2 ;;
        --keep-going) keep=1; shift ;;    # fork mode that goes on past violations
        --empty) empty=1; shift ;;        # start from an empty corpus instead of the seeds
        --all) known=""; shift ;;         # also report the findings listed in corpus/known-issues.txt
        --out) out="${2:?--out needs a directory}"; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
for n in $seconds $runs $seed $jobs $workers; do [[ "$n" =~ ^[0-9]+$ ]] || die "'$n' is not a whole number"; done
[ "$jobs" -ge 1 ] || die "--jobs needs at least 1"
[ "$workers" -ge 1 ] || die "--workers needs at least 1"
[ "$jobs" = 1 ] || [ "$workers" = 1 ] || die "--jobs and --workers are two ways of using several processes: pick one"
[ "$workers" = 1 ] || [ "$keep" = 0 ] || die "--keep-going is a fork-mode option (use --jobs)"
[ -n "$seconds" ] || [ -n "$runs" ] || seconds=60
# Fork mode: more than one job, or --keep-going (-ignore_crashes only exists in fork mode).
fork=0
if [ "$jobs" -gt 1 ] || [ "$keep" = 1 ]; then fork="$jobs"; fi

SVMFUZZ="$(svmfuzz_bin)"
check_variant "$variant"
bin="$("$ROOT/scripts/build-fuzz.sh" FuzzSVM)"

if [ -n "$out" ]; then
    mkdir -p "$out"; work="$(cd "$out" && pwd)"; findings="$work/findings"
else
    work="$ROOT/.fuzz/$variant"; findings="$ROOT/findings/$variant"
fi
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
if [ "$fork" -gt 0 ]; then
    args+=(-fork="$fork")
    [ "$keep" = 1 ] && args+=(-ignore_crashes=1)
    [ -n "$seed" ] && echo "fuzz.sh: --seed $seed not passed on in fork mode (every job would get it)" >&2
else
    [ -n "$seed" ] && args+=(-seed="$seed")
fi
log="$work/last.log"
marker="$work/.started"
: > "$marker"
echo "fuzzing variant $variant with $bin (log: $log)" >&2
# Sets $cpu to the CPU seconds (user + system) of this shell's finished children, from the `times`
# builtin, which must run in this shell (not in a subshell) to see them.
children_cpu() {
    times > "$work/.times"
    cpu="$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] } printf "%.2f", t }' "$work/.times")"
}
set +e
children_cpu; cpu_start="$cpu"
start=$EPOCHREALTIME
if [ "$workers" -gt 1 ]; then
    # W processes started here (not by libFuzzer's -jobs, which would give each the same -seed),
    # each with its own log; the seeds are merged into the shared corpus first so that every
    # worker starts from them.
    [ ${#seeds[@]} -eq 0 ] || cp -n "${seeds[0]}"/* "$work/corpus/" 2>/dev/null || true
    pids=()
    for ((w = 0; w < workers; w++)); do
        wargs=("${args[@]}" -reload=1)
        [ -n "$seed" ] && wargs+=(-seed=$((seed + w)))
        SVMFUZZ_KNOWN="$known" SVMFUZZ_VARIANT="$variant" "$bin" "${wargs[@]}" ${extra[@]+"${extra[@]}"} "$work/corpus" \
            >"$work/worker-$w.log" 2>&1 &
        pids+=($!)
    done
    # The first worker to stop on a violation (or an error) ends the others.
    rc=0
    for ((w = 0; w < workers; w++)); do
        wait -n "${pids[@]}" && continue
        rc=$?
        kill "${pids[@]}" 2>/dev/null || true
        wait "${pids[@]}" 2>/dev/null || true
        break
    done
    cat "$work"/worker-*.log > "$log"
else
    SVMFUZZ_KNOWN="$known" SVMFUZZ_VARIANT="$variant" "$bin" "${args[@]}" ${extra[@]+"${extra[@]}"} "$work/corpus" ${seeds[@]+"${seeds[@]}"} >"$log" 2>&1
    rc=$?
fi
end=$EPOCHREALTIME
children_cpu; cpu_end="$cpu"
set -e
grep -E "^(VIOLATION|#[0-9]+.*(NEW|DONE|pulse|cov:))" "$log" | tail -n 3 >&2 || true
# The executions one libFuzzer process reports in its log: its final stats (also when it crashes),
# else its last status line.
process_execs() {
    local n
    n="$(grep -oE "stat::number_of_executed_units: [0-9]+" "$1" | tail -n 1 | grep -oE "[0-9]+$" || true)"
    [ -n "$n" ] || n="$(grep -oE "^#[0-9]+" "$1" | tail -n 1 | tr -d '#' || true)"
    echo "$n"
}
# Executions: a fork-mode parent sums its finished jobs in its `#<n>: cov: ...` lines; a single
# process prints its final stats (also when it crashes).
if [ "$fork" -gt 0 ]; then
    execs="$(grep -oE "^#[0-9]+: cov:" "$log" | tail -n 1 | tr -dc '0-9' || true)"
elif [ "$workers" -gt 1 ]; then
    execs=0
    for wl in "$work"/worker-*.log; do
        n="$(process_execs "$wl")"
        execs=$((execs + ${n:-0}))
    done
else
    execs="$(process_execs "$log")"
fi
echo "stats execs=${execs:-0} seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') cpu=$(awk -v a="$cpu_start" -v b="$cpu_end" 'BEGIN { printf "%.2f", b - a }') jobs=$jobs workers=$workers" >&2

if [ "$keep" = 1 ]; then
    # The parent only relays the children's ERROR lines: name each new artifact by replaying it.
    declare -A first=() count=()
    while IFS= read -r a; do
        inv="$("$SVMFUZZ" replay "$a" --variant "$variant" 2>/dev/null | grep -m 1 -oE "^VIOLATION [^ ]+" | cut -d' ' -f2 || true)"
        inv="${inv:-crash}"
        [ -n "${first[$inv]:-}" ] || first[$inv]="$a"
        count[$inv]=$(( ${count[$inv]:-0} + 1 ))
    done < <(find "$findings" -maxdepth 1 -type f -name 'crash-*' -newer "$marker" -printf '%T@ %p\n' | sort -n | cut -d' ' -f2-)
    if [ "${#first[@]}" -gt 0 ]; then
        for inv in $(printf '%s\n' "${!first[@]}" | sort); do
            echo "$inv: ${count[$inv]} artifact(s)" >&2
            echo "FOUND $inv ${first[$inv]#"$ROOT"/}"
        done
        exit 0
    fi
else
    artifact="$(grep -oE "Test unit written to [^ ]+" "$log" | tail -n 1 | sed 's/Test unit written to //' || true)"
    violation="$(grep -oE "^VIOLATION [^ ]+" "$log" | head -n 1 | cut -d' ' -f2 || true)"
    if [ -n "$artifact" ]; then
        sed -n '/^VIOLATION/,/^==[0-9]*==\|^Fatal error\|^SVMFuzzKit\/\|^FuzzSVM\//p' "$log" | grep -v "^==\|^Fatal error\|^ASSERTION FAILED" >&2 || true
        echo "FOUND ${violation:-crash} ${artifact#"$ROOT"/}"
        exit 0
    fi
fi
if [ "$rc" -ne 0 ]; then
    tail -n 20 "$log" >&2
    die "libFuzzer exited with $rc and no artifact"
fi
echo "CLEAN ${execs:-0} execs"
