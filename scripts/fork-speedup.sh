#!/usr/bin/env bash
# What `scripts/fuzz.sh --jobs N` (libFuzzer -fork=N) buys on this machine, as one JSON line on stdout
# (progress on stderr), for scripts/bench.sh to call:
#   scripts/fork-speedup.sh [--jobs N | --workers N] [--seconds S] [--reps R] [--variant V]
#                           [--bug-variants a,b,c] [--bug-reps K] [--bug-cap C] [--quick]
# - throughput: R pairs of campaigns on --variant from corpus/seeds, `--jobs 1 --seed r` then
#   `--jobs N`, S seconds each, back to back, each in a fresh folder; executions per wall second
#   (fuzz.sh's `stats` line) and the ratio of each pair, so both halves of a pair share the
#   machine's load of the moment (the machine is shared: compare ratios, not absolute figures);
#   also executions per CPU second and the CPUs a campaign kept busy, which split the speed-up
#   into fork mode's cost per execution and the cores it got;
# - time to bug: for each --bug-variants variant, K campaigns from an empty corpus with --jobs 1
#   (--seed 1..K) and K with --jobs N (fork mode takes no seed: K repetitions), each capped at C
#   seconds; wall seconds to FOUND, null when the cap passed first.
# Defaults: N=2, S=60, R=3, V=merged, prefix,v1-ignore-in-guest,v2-set-efer, K=3, C=60 (about 10
# minutes). --quick: S=30, R=1, K=2, C=20 (below 30 s the workers' start-up, each loading the seeds and the other's finds, weighs on the ratio: 1.45x at 15 s against 1.8-2.2x at 30-60 s, 2026-12-03). --workers N measures `fuzz.sh --workers N` (N independent
# processes sharing the corpus) instead of fork mode; the JSON's "mode" says which.
source "$(dirname "$0")/lib.sh"
how=--jobs jobs=2 seconds=60 reps=3 variant=merged bug_variants="prefix,v1-ignore-in-guest,v2-set-efer" bug_reps=3 cap=60
num() { [[ "${2:-}" =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ] || die "$1 needs a whole number ≥ 1 (got '${2:-}')"; }
cmdline="scripts/fork-speedup.sh${*:+ $*}"
while [ $# -gt 0 ]; do
    case "$1" in
        --jobs) num "$1" "${2:-}"; jobs="$2"; how=--jobs; shift 2 ;;
        --workers) num "$1" "${2:-}"; jobs="$2"; how=--workers; shift 2 ;;
        --seconds) num "$1" "${2:-}"; seconds="$2"; shift 2 ;;
        --reps) num "$1" "${2:-}"; reps="$2"; shift 2 ;;
        --variant) variant="${2:?--variant needs a name}"; shift 2 ;;
        --bug-variants) bug_variants="${2?--bug-variants needs a list (may be empty)}"; shift 2 ;;
        --bug-reps) num "$1" "${2:-}"; bug_reps="$2"; shift 2 ;;
        --bug-cap) num "$1" "${2:-}"; cap="$2"; shift 2 ;;
        --quick) seconds=30 reps=1 bug_reps=2 cap=20; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
command -v python3 >/dev/null || die "python3 is needed"
SVMFUZZ="$(svmfuzz_bin)"
for v in "$variant" ${bug_variants//,/ }; do check_variant "$v"; done
"$ROOT/scripts/build-fuzz.sh" FuzzSVM >/dev/null

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
rows="$scratch/rows.tsv"
load() { cut -d' ' -f1 /proc/loadavg; }
load_start="$(load)"

# One campaign; appends `kind variant jobs rep verdict execs seconds cpu` to $rows.
run() {
    local kind="$1" v="$2" j="$3" rep="$4"; shift 4
    local out="$scratch/run" verdict stats
    rm -rf "$out"
    verdict="$("$ROOT/scripts/fuzz.sh" --variant "$v" "$how" "$j" --out "$out" "$@" 2>"$scratch/err" | tail -n 1)" || true
    stats="$(grep -E "^stats " "$scratch/err" | tail -n 1)"
    [ -n "$stats" ] || { cat "$scratch/err" >&2; die "fuzz.sh gave no stats line ($kind $v --jobs $j)"; }
    local execs="${stats#*execs=}" secs="${stats#*seconds=}" cpu="${stats#*cpu=}"
    execs="${execs%% *}" secs="${secs%% *}" cpu="${cpu%% *}"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$v" "$j" "$rep" "${verdict%% *}" "$execs" "$secs" "$cpu" >> "$rows"
    echo "$kind $v $how $j #$rep: ${verdict:-nothing} ($execs execs in $secs s, $cpu CPU s, load $(load))" >&2
}

for r in $(seq 1 "$reps"); do
    run speed "$variant" 1 "$r" --seconds "$seconds" --seed "$r"
    run speed "$variant" "$jobs" "$r" --seconds "$seconds"
done
for v in ${bug_variants//,/ }; do
    for r in $(seq 1 "$bug_reps"); do
        run bug "$v" 1 "$r" --empty --seconds "$cap" --seed "$r"
        run bug "$v" "$jobs" "$r" --empty --seconds "$cap"
    done
done

python3 - "$rows" "$jobs" "$seconds" "$variant" "$cap" "$load_start" "$(load)" "$(nproc)" "$cmdline" \
    "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)" "${how#--}" <<'PY'
import json, statistics, sys, time
rows_path, jobs, seconds, variant, cap, load0, load1, cores, cmd, rev, how = sys.argv[1:]
rows = [l.rstrip("\n").split("\t") for l in open(rows_path) if l.strip()]
def med(xs):
    """Median; a run that missed the cap counts as slower than every finished one."""
    if not xs: return None
    m = statistics.median_low([float("inf") if x is None else x for x in xs])
    return None if m == float("inf") else round(m, 3)
def rate(n, t):
    return round(int(n) / float(t), 1) if float(t) > 0 else 0.0
speed, per_cpu, cpu_used = {"1": [], jobs: []}, {"1": [], jobs: []}, {"1": [], jobs: []}
for kind, v, j, rep, verdict, execs, secs, cpu in rows:
    if kind == "speed":
        speed[j].append(rate(execs, secs))
        per_cpu[j].append(rate(execs, cpu))
        cpu_used[j].append(round(float(cpu) / float(secs), 2))
def ratios(d):
    return [round(b / a, 3) for a, b in zip(d["1"], d[jobs]) if a > 0]
pairs = ratios(speed)
bugs = {}
for kind, v, j, rep, verdict, execs, secs, cpu in rows:
    if kind == "bug":
        side = bugs.setdefault(v, {"jobs1": [], f"jobs{jobs}": []})["jobs1" if j == "1" else f"jobs{jobs}"]
        side.append(float(secs) if verdict == "FOUND" else None)
for v, sides in bugs.items():
    for k in list(sides):
        sides[k + "_median"] = med(sides[k])
print(json.dumps({
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "revision": rev, "command": cmd,
    "cores": int(cores), "loadavg_start": float(load0), "loadavg_end": float(load1),
    "jobs": int(jobs), "mode": "fork" if how == "jobs" else "workers",
    "throughput": {"variant": variant, "seconds": int(seconds), "execs_per_sec_jobs1": speed["1"],
                   f"execs_per_sec_jobs{jobs}": speed[jobs], "pair_ratios": pairs,
                   "speedup_median": med(pairs),
                   "execs_per_cpu_sec_jobs1": per_cpu["1"], f"execs_per_cpu_sec_jobs{jobs}": per_cpu[jobs],
                   "per_cpu_ratio_median": med(ratios(per_cpu)),
                   "cpus_busy_jobs1": cpu_used["1"], f"cpus_busy_jobs{jobs}": cpu_used[jobs]},
    "time_to_bug": {"cap_seconds": int(cap), "from": "empty corpus", "variants": bugs},
}, separators=(",", ":")))
PY
