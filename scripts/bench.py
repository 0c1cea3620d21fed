#!/usr/bin/env python3
"""The benchmark report (driven by scripts/bench.sh, which validates the flags and builds the binaries).

Sections: execution speed (FuzzSVM vs FuzzEmpty, alternating A/B), time to bug (variants x methods x
seeds), reproducer size, coverage (scripts/coverage.sh), memory, and the bug zoo table scripts/zoo.sh
last wrote (OUT/zoo.md). Writes OUT/report.md and
OUT/report.svg and prints the Markdown report on stdout; progress goes to stderr.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--root", required=True)
ap.add_argument("--svmfuzz", required=True)
ap.add_argument("--fuzz-svm", required=True)
ap.add_argument("--fuzz-empty", required=True)
ap.add_argument("--svm-bench", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--mode", default="default")
ap.add_argument("--command", default="scripts/bench.sh")
ap.add_argument("--variants", required=True)
ap.add_argument("--seeds", type=int, required=True)
ap.add_argument("--fuzz-runs", type=int, required=True)
ap.add_argument("--hunt-runs", type=int, required=True)
ap.add_argument("--cap", type=int, required=True)
ap.add_argument("--speed-reps", type=int, required=True)
ap.add_argument("--speed-runs", type=int, required=True)
ap.add_argument("--replay-runs", type=int, required=True)
ap.add_argument("--rss-seconds", type=int, required=True)
ap.add_argument("--core-ops", type=int, required=True)
ap.add_argument("--coverage", default="")          # "" = skip; else the coverage.sh command line
args = ap.parse_args()

ROOT = args.root
OUT = args.out
WORK = os.path.join(OUT, "work")
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK, exist_ok=True)
VARIANTS = [v for v in args.variants.split(",") if v]
KNOWN = os.path.join(ROOT, "corpus", "known-issues.txt")
DICT = os.path.join(ROOT, "corpus", "svm.dict")
BASE_ENV = dict(os.environ, SWIFT_BACKTRACE="enable=no")
if os.path.exists(KNOWN):
    BASE_ENV["SVMFUZZ_KNOWN"] = KNOWN
TIME = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
T0 = time.monotonic()


def log(msg):
    print(f"[bench {time.monotonic() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def run(cmd, env=None, cwd=None, timeout=None):
    """(returncode, combined output, wall seconds). A timeout kills the process: rc None."""
    t = time.monotonic()
    try:
        p = subprocess.run(cmd, env=env or BASE_ENV, cwd=cwd or WORK, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace"), time.monotonic() - t
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        return None, out, time.monotonic() - t


def json_line(out):
    """The last line of svmfuzz's --json output, parsed (None when there is none)."""
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_rate(x):
    if x != x:
        return "n/a"
    if x >= 1e6:
        return f"{x / 1e6:.2f} M/s"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k/s"
    return f"{x:.0f} /s"


def fmt_s(x):
    if x >= 100:
        return f"{x:.0f} s"
    if x >= 10:
        return f"{x:.1f} s"
    if x >= 1:
        return f"{x:.2f} s"
    return f"{x:.3f} s"


def fmt_n(n):
    return f"{round(n):,}"


def stat(out, name):
    m = re.findall(r"stat::%s:\s+(\d+)" % name, out)
    return int(m[-1]) if m else None


def last_hash_count(out):
    m = re.findall(r"^#(\d+)", out, re.M)
    return int(m[-1]) if m else None


# ---------------------------------------------------------------- fixed inputs: the seeds, encoded
SEEDS_DIR = os.path.join(WORK, "seeds")
os.makedirs(SEEDS_DIR)
seed_files = []
for f in sorted(os.listdir(os.path.join(ROOT, "corpus", "seeds"))):
    if f.endswith(".svm"):
        dst = os.path.join(SEEDS_DIR, f[:-4] + ".bin")
        rc, out, _ = run([args.svmfuzz, "encode", os.path.join(ROOT, "corpus", "seeds", f), "-o", dst])
        if rc != 0:
            sys.exit(f"bench: corpus seed {f} does not encode: {out.strip()}")
        seed_files.append(dst)
if not seed_files:
    sys.exit("bench: corpus/seeds holds no .svm seeds")

# ---------------------------------------------------------------- machine
cpu = "unknown"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
except OSError:
    pass
NPROC = os.cpu_count()
NOW = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
try:
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    rev = (rev + (" + uncommitted changes" if dirty else "")) if rev else "unknown"
except OSError:
    rev = "unknown"
MACHINE = f"{NPROC} cores, {cpu}, {platform.system()} {platform.release()}"

# ---------------------------------------------------------------- 1. execution speed
log("1/5 execution speed (A/B alternating)")
seed_csv = ",".join(seed_files)
EMPTY_FACTOR = 50          # FuzzEmpty runs this many times more inputs, so both runs last seconds


def fuzz_speed(binary, runs):
    env = dict(BASE_ENV, SVMFUZZ_VARIANT="merged")
    rc, out, wall = run([binary, "-seed=1", f"-runs={runs}", "-print_final_stats=1", f"-dict={DICT}",
                         "-max_len=256", f"-seed_inputs={seed_csv}",
                         f"-artifact_prefix={WORK}/speed-"], env=env, timeout=args.cap * 20 + 60)
    execs = stat(out, "number_of_executed_units") or last_hash_count(out) or 0
    viol = re.search(r"^VIOLATION (\S+)", out, re.M)
    return execs, wall, (viol.group(1) if viol else None)


def replay_speed(binary, runs):
    env = dict(BASE_ENV, SVMFUZZ_VARIANT="merged")
    rc, out, wall = run([binary, f"-runs={runs}"] + seed_files, env=env, timeout=args.cap * 20 + 60)
    if rc != 0:
        sys.exit(f"bench: replaying the seeds through {binary} failed (rc {rc}):\n{out[-2000:]}")
    return runs * len(seed_files), wall


speed = {k: [] for k in ("svm_fuzz", "empty_fuzz", "svm_replay", "empty_replay",
                         "svm_fuzz_start", "empty_fuzz_start", "svm_replay_start", "empty_replay_start")}
stopped = []
for rep in range(args.speed_reps):
    # A/B/A/B: every repetition runs both targets back to back, in both measurement modes.
    for key, binary, runs in (("svm_fuzz", args.fuzz_svm, args.speed_runs),
                              ("empty_fuzz", args.fuzz_empty, args.speed_runs * EMPTY_FACTOR)):
        execs, wall, viol = fuzz_speed(binary, runs)
        if viol:
            stopped.append(f"{viol} after {execs} execs")
        speed[key].append((execs, wall))
    for key, binary in (("svm_replay", args.fuzz_svm), ("empty_replay", args.fuzz_empty)):
        speed[key].append(replay_speed(binary, args.replay_runs))
    # Start-up and corpus loading, the same command with -runs=0.
    for who, binary in (("svm", args.fuzz_svm), ("empty", args.fuzz_empty)):
        speed[who + "_fuzz_start"].append(fuzz_speed(binary, 0)[1])
        speed[who + "_replay_start"].append(replay_speed(binary, 0)[1])
start = {k: med(speed[k + "_start"]) for k in ("svm_fuzz", "empty_fuzz", "svm_replay", "empty_replay")}
too_short = []


def rate(key):
    """Median over repetitions of execs / (wall - median start-up), so the process start does not count.
    When start-up is more than half the run, the run is too short for that: the gross rate is used."""
    out = []
    for e, w in speed[key]:
        if w - start[key] < 0.5 * w:
            too_short.append(key)
            out.append(e / w)
        else:
            out.append(e / (w - start[key]))
    return med(out)


R = {k: rate(k) for k in ("svm_fuzz", "empty_fuzz", "svm_replay", "empty_replay")}
R_gross = {k: med([e / w for e, w in speed[k]]) for k in ("svm_fuzz", "empty_fuzz", "svm_replay", "empty_replay")}
ratio_fuzz = R["svm_fuzz"] / R["empty_fuzz"]
ratio_replay = R["svm_replay"] / R["empty_replay"]

core = []
for _ in range(3):
    rc, out, _ = run([args.svm_bench, "--ops", str(args.core_ops)], cwd=ROOT)
    m = re.search(r"=\s*([\d.]+)\s*Mops/s", out)
    if rc == 0 and m:
        core.append(float(m.group(1)) * 1e6)
core_rate = med(core)
rc, out, hunt_wall = run([args.svmfuzz, "hunt", "--variant", "merged", "--seed", "1", "--runs", str(args.speed_runs * 4),
                          "--seconds", str(args.cap), "--json"])
hunt_execs = (json_line(out) or {}).get("execs", 0)
hunt_rate = hunt_execs / hunt_wall if hunt_wall > 0 else float("nan")

# ---------------------------------------------------------------- 2. time to bug
log(f"2/5 time to bug: {len(VARIANTS)} variants x 3 methods x {args.seeds} seeds (cap {args.cap} s per run)")
METHODS = [("lf-empty", "libFuzzer, empty corpus"), ("lf-seeds", "libFuzzer, corpus/seeds"),
           ("hunt", "svmfuzz hunt (random)")]
ttb = {(v, m): [] for v in VARIANTS for m, _ in METHODS}   # dicts: found, execs, secs, violation, artifact


def lf_run(variant, seed, from_seeds):
    tag = f"{variant}-{'seeds' if from_seeds else 'empty'}-{seed}"
    corpus = os.path.join(WORK, "corpus-" + tag)
    art = os.path.join(WORK, "art-" + tag) + "/"
    os.makedirs(corpus)
    os.makedirs(art)
    cmd = [args.fuzz_svm, f"-seed={seed}", f"-runs={args.fuzz_runs}", f"-max_total_time={args.cap}",
           "-print_final_stats=1", f"-dict={DICT}", "-max_len=256", f"-artifact_prefix={art}", corpus]
    if from_seeds:
        cmd.append(SEEDS_DIR)
    rc, out, wall = run(cmd, env=dict(BASE_ENV, SVMFUZZ_VARIANT=variant), timeout=args.cap + 60)
    shutil.rmtree(corpus, ignore_errors=True)
    m = re.search(r"Test unit written to (\S+)", out)
    execs = stat(out, "number_of_executed_units") or last_hash_count(out) or 0
    viol = re.search(r"^VIOLATION (\S+)", out, re.M)
    if m and rc not in (0, None):
        return dict(found=True, execs=execs, secs=wall, violation=viol.group(1) if viol else "crash", artifact=m.group(1))
    if rc not in (0, None):
        sys.exit(f"bench: libFuzzer ({tag}) exited with {rc} and no artifact:\n{out[-2000:]}")
    return dict(found=False, execs=execs, secs=wall, violation=None, artifact=None)


def hunt_run(variant, seed):
    rc, out, wall = run([args.svmfuzz, "hunt", "--variant", variant, "--seed", str(seed),
                         "--runs", str(args.hunt_runs), "--seconds", str(args.cap), "--json"], timeout=args.cap + 60)
    r = json_line(out)
    if rc != 0 or not r:
        sys.exit(f"bench: svmfuzz hunt on {variant} failed (rc {rc}):\n{out[-2000:]}")
    found = r["result"] == "found"
    return dict(found=found, execs=r["execs"], secs=wall, violation=r.get("invariant"), artifact=None)


for seed in range(1, args.seeds + 1):
    for v in VARIANTS:                                   # methods interleaved, seed by seed
        ttb[(v, "lf-empty")].append(lf_run(v, seed, False))
        ttb[(v, "lf-seeds")].append(lf_run(v, seed, True))
        ttb[(v, "hunt")].append(hunt_run(v, seed))
    log(f"   seed {seed}/{args.seeds} done")


def censored_summary(rs, key):
    """(median, median_is_lower_bound, max, max_is_lower_bound). A run that found nothing counts as its
    budget, which is a lower bound: any statistic that depends on it is one too."""
    vals = sorted(((r[key], not r["found"]) for r in rs), key=lambda t: t[0])
    n = len(vals)
    if n == 0:
        return float("nan"), False, float("nan"), False
    # A lower bound can only move up; the order statistics at or above it become bounds too.
    first_cens = next((i for i, (_, c) in enumerate(vals) if c), n)
    mid = [(n - 1) // 2, n // 2]
    medv = (vals[mid[0]][0] + vals[mid[1]][0]) / 2
    med_lb = any(i >= first_cens for i in mid)
    return medv, med_lb, vals[-1][0], first_cens < n


def show(x, lb, f):
    return ("≥ " if lb else "") + f(x)


summary = {}
for (v, m), rs in ttb.items():
    e = censored_summary(rs, "execs")
    s = censored_summary(rs, "secs")
    summary[(v, m)] = dict(found=sum(r["found"] for r in rs), n=len(rs), execs=e, secs=s,
                           violations=sorted({r["violation"] for r in rs if r["violation"]}))

# ---------------------------------------------------------------- 3. reproducer size
log("3/5 reproducer size (svmfuzz minimize)")
repro = {}
for v in VARIANTS:
    sizes, best = [], None
    for i, r in enumerate(ttb[(v, "lf-empty")] + ttb[(v, "lf-seeds")]):
        if not r["artifact"]:
            continue
        dst = os.path.join(WORK, f"min-{v}-{i}.svm")
        rc, out, _ = run([args.svmfuzz, "minimize", r["artifact"], "--variant", v, "-o", dst, "--json"])
        m = json_line(out)
        if rc == 0 and m:
            sizes.append((m["to"], m["from"], m["violation"]))
            if best is None or m["to"] < best[0]:
                best = (m["to"], "".join(l for l in open(dst) if not l.startswith("# minimized from")))
    repro[v] = (sizes, best)

# ---------------------------------------------------------------- 5. memory (before coverage: its corpus feeds it)
log(f"4/5 memory: a {args.rss_seconds}-second campaign (merged, from corpus/seeds)")
camp = os.path.join(WORK, "campaign-corpus")
os.makedirs(camp)
# A violation ends a libFuzzer process; the campaign then goes on from its corpus (like a restart of
# scripts/fuzz.sh) until the time is used up. Peak RSS is the largest of the segments.
camp_execs, camp_viols, rss_vals, time_rss_vals, camp_cov = 0, [], [], [], []
t_camp = time.monotonic()
while True:
    left = args.rss_seconds - (time.monotonic() - t_camp)
    if left < 1:
        break
    cmd = [args.fuzz_svm, f"-max_total_time={int(math.ceil(left))}", "-print_final_stats=1", f"-dict={DICT}",
           "-max_len=256", f"-artifact_prefix={WORK}/campaign-", camp, SEEDS_DIR]
    if TIME:
        cmd = [TIME, "-f", "TIME_MAXRSS_KB %M"] + cmd
    rc, out, _ = run(cmd, env=dict(BASE_ENV, SVMFUZZ_VARIANT="merged"), timeout=args.rss_seconds + 120)
    v = stat(out, "peak_rss_mb")
    if v is not None:
        rss_vals.append(v)
    m = re.search(r"TIME_MAXRSS_KB (\d+)", out)
    if m:
        time_rss_vals.append(int(m.group(1)) / 1024)
    camp_execs += stat(out, "number_of_executed_units") or last_hash_count(out) or 0
    camp_cov += re.findall(r"cov: (\d+) ft: (\d+)", out)
    viol = re.search(r"^VIOLATION (\S+)", out, re.M)
    if viol:
        camp_viols.append(viol.group(1))
    elif rc != 0:
        break
wall = time.monotonic() - t_camp
rss_mb = max(rss_vals) if rss_vals else None
time_rss_mb = max(time_rss_vals) if time_rss_vals else None
camp_files = len(os.listdir(camp))

# What a finding costs besides the search: the sanitizer runtime symbolizes libFuzzer's stack trace
# with llvm-symbolizer. Replay one artifact A/B with and without UBSAN_OPTIONS=symbolize=0.
sym_cost = None
arts = [(v, r["artifact"]) for v in VARIANTS for r in ttb[(v, "lf-empty")] if r["artifact"]]
if arts:
    v, a = arts[0]
    with_sym, without = [], []
    for _ in range(3):
        with_sym.append(run([args.fuzz_svm, a], env=dict(BASE_ENV, SVMFUZZ_VARIANT=v))[2])
        without.append(run([args.fuzz_svm, a], env=dict(BASE_ENV, SVMFUZZ_VARIANT=v, UBSAN_OPTIONS="symbolize=0"))[2])
    sym_cost = (med(with_sym), med(without))

# ---------------------------------------------------------------- 4. coverage
cov_md, cov_line = None, None
if args.coverage:
    log("5/5 coverage (scripts/coverage.sh)")
    cmd = args.coverage.split() + ["--out", OUT, "--corpus", f"merged={camp}"]
    p = subprocess.run(cmd, env=BASE_ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"bench: scripts/coverage.sh failed (rc {p.returncode}): {p.stderr.strip()[-1500:]}")
    cov_md = p.stdout
    m = re.search(r"^COVERAGE lines ([\d.]+)% regions ([\d.]+|n/a)%?", cov_md, re.M)
    cov_line = (float(m.group(1)), m.group(2)) if m else None
else:
    log("5/5 coverage skipped")

# ---------------------------------------------------------------- the report
L = []
w = L.append
w(f"# svmfuzz benchmark report ({args.mode})")
w("")
w(f"- Date: {NOW}")
w(f"- Machine: {MACHINE}")
w(f"- Source: {rev}")
w(f"- Command: `{args.command}`")
w(f"- Budgets: {args.seeds} seeds; per run at most {args.cap} s, libFuzzer `-runs={args.fuzz_runs}`, "
  f"hunt `--runs {args.hunt_runs}`; speed: {args.speed_reps} A/B repetitions; memory: {args.rss_seconds} s campaign.")
w("")
w("## 1. Execution speed")
w("")
w(f"FuzzSVM (variant `merged`, known issues ignored) and FuzzEmpty (same `--sanitize=fuzzer` build), run "
  f"alternately A/B in {args.speed_reps} repetition(s); medians. Rates subtract the median start-up time of the "
  f"same command with `-runs=0` (fuzzing: FuzzSVM {fmt_s(start['svm_fuzz'])}, FuzzEmpty {fmt_s(start['empty_fuzz'])}; "
  f"replay: {fmt_s(start['svm_replay'])}, {fmt_s(start['empty_replay'])}).")
w("")
w("| Mode | FuzzSVM | FuzzEmpty | Ratio | Goal ≥ 50% |")
w("|---|---:|---:|---:|---|")
w(f"| fuzzing from the seeds (`-seed=1 -runs={args.speed_runs}` vs `{args.speed_runs * EMPTY_FACTOR}`, single worker) | "
  f"{fmt_rate(R['svm_fuzz'])} | {fmt_rate(R['empty_fuzz'])} | {100 * ratio_fuzz:.1f}% | "
  f"{'met' if ratio_fuzz >= 0.5 else 'not met'} |")
w(f"| replay of the {len(seed_files)} seeds (`-runs={args.replay_runs}` each, file re-read every run) | "
  f"{fmt_rate(R['svm_replay'])} | {fmt_rate(R['empty_replay'])} | {100 * ratio_replay:.1f}% | "
  f"{'met' if ratio_replay >= 0.5 else 'not met'} |")
w("")
w(f"Without start-up subtraction: fuzzing {fmt_rate(R_gross['svm_fuzz'])} vs {fmt_rate(R_gross['empty_fuzz'])}, "
  f"replay {fmt_rate(R_gross['svm_replay'])} vs {fmt_rate(R_gross['empty_replay'])}.")
if too_short:
    w(f"Too short to subtract start-up (gross rate used): {', '.join(sorted(set(too_short)))}; raise --speed-runs/--replay-runs.")
if stopped:
    w(f"Some FuzzSVM speed runs stopped at a violation ({'; '.join(sorted(set(stopped)))}); their rate covers the inputs run.")
w("")
w(f"- Core (`svm-bench --ops {args.core_ops}`, median of {len(core)}): **{core_rate / 1e6:.1f} M core ops/s**.")
w(f"- Harness without libFuzzer or coverage instrumentation (`svmfuzz hunt --variant merged`, random inputs ≤ 64 B): "
  f"{fmt_rate(hunt_rate)} ({fmt_n(hunt_execs)} inputs in {fmt_s(hunt_wall)}, start-up included).")
w("")
w("## 2. Time to bug")
w("")
w(f"Executions and wall-clock seconds (measured around the process, start-up included) to the first violation, "
  f"{args.seeds} seeds per cell (libFuzzer `-seed=S`, hunt `--seed S`), medians and maxima. "
  f"`≥` marks a lower bound: some run used up its budget without a violation.")
w("")
w("| Variant | Method | Found | Execs median | Execs max | Seconds median | Seconds max | Violation(s) |")
w("|---|---|---:|---:|---:|---:|---:|---|")
for v in VARIANTS:
    for m, label in METHODS:
        s = summary[(v, m)]
        e, t = s["execs"], s["secs"]
        w(f"| {v} | {label} | {s['found']}/{s['n']} | {show(e[0], e[1], fmt_n)} | {show(e[2], e[3], fmt_n)} | "
          f"{show(t[0], t[1], fmt_s)} | {show(t[2], t[3], fmt_s)} | {', '.join(s['violations']) or '—'} |")
w("")
goals = []
g1 = all(summary[(v, "lf-empty")]["secs"][0] < 1 and not summary[(v, "lf-empty")]["secs"][1] for v in VARIANTS)
goals.append(("every flaw found by libFuzzer from an empty corpus in a median < 1 s", g1,
              ", ".join(f"{v} {show(summary[(v, 'lf-empty')]['secs'][0], summary[(v, 'lf-empty')]['secs'][1], fmt_s)}" for v in VARIANTS)))
# The hardest variant: the largest median execs of the random search (ties: of libFuzzer from empty).
hard = max(VARIANTS, key=lambda v: (summary[(v, "hunt")]["execs"][0], summary[(v, "lf-empty")]["execs"][0]))
hs, he = summary[(hard, "hunt")]["secs"], summary[(hard, "hunt")]["execs"]
ratio_txt = []
best_ratio = 0
for m in ("lf-empty", "lf-seeds"):
    ls, le = summary[(hard, m)]["secs"], summary[(hard, m)]["execs"]
    r_s = hs[0] / ls[0] if ls[0] > 0 else float("inf")
    r_e = he[0] / le[0] if le[0] > 0 else float("inf")
    # hunt/libFuzzer: a lower bound on hunt's side makes the ratio one too, on libFuzzer's an upper bound.
    qual = lambda h, l: "" if not (h or l) else ("≥ " if h and not l else ("≤ " if l and not h else "unknown: "))
    ok_s = not ls[1]                       # a ratio with libFuzzer's side a lower bound proves nothing
    ratio_txt.append(f"{dict(METHODS)[m]}: hunt/libFuzzer = {qual(hs[1], ls[1])}{r_s:.2f}× in seconds, "
                     f"{qual(he[1], le[1])}{r_e:.2f}× in executions")
    if not ok_s:
        r_s = 0
    best_ratio = max(best_ratio, r_s)
g2 = best_ratio >= 10
goals.append((f"libFuzzer ≥ 10× faster than random search on the hardest flaw ({hard})", g2, "; ".join(ratio_txt)))
if sym_cost:
    w(f"- Fixed cost in every libFuzzer 'seconds' figure: start-up ({fmt_s(start['svm_fuzz'])}) and the crash report. "
      f"Replaying one artifact takes {fmt_s(sym_cost[0])}, of which llvm-symbolizer (spawned to symbolize "
      f"libFuzzer's stack trace) accounts for all but {fmt_s(sym_cost[1])} (`UBSAN_OPTIONS=symbolize=0`).")
for text, ok, detail in goals:
    w(f"- Goal: {text}: **{'met' if ok else 'not met'}** ({detail}).")
w("")
w("![time to bug](report.svg)")
w("")
w("## 3. Reproducer size")
w("")
w("Every libFuzzer artifact above, minimized with `svmfuzz minimize --variant V` (operation level).")
w("")
w("| Variant | Artifacts | Operations after minimizing (min / median / max) | Before (median) | Violation(s) |")
w("|---|---:|---|---:|---|")
for v in VARIANTS:
    sizes, best = repro[v]
    if sizes:
        after = sorted(s[0] for s in sizes)
        w(f"| {v} | {len(sizes)} | {after[0]} / {med(after):g} / {after[-1]} | {med([s[1] for s in sizes]):g} | "
          f"{', '.join(sorted({s[2] for s in sizes}))} |")
    else:
        w(f"| {v} | 0 | — | — | — |")
w("")
for v in VARIANTS:
    best = repro[v][1]
    if best:
        w(f"Smallest reproducer for `{v}` ({best[0]} operations):")
        w("")
        w("```")
        w(best[1].rstrip())
        w("```")
        w("")
w("## 4. Coverage of the core (Sources/SVMModel)")
w("")
if cov_md:
    w(f"`scripts/coverage.sh` (instrumented with `-profile-generate -profile-coverage-mapping` in .build-cov, "
      f"replay with `-runs=0`; the memory campaign's corpus is included).")
    w("")
    w(cov_md.strip())
    w("")
    if cov_line:
        w(f"- Goal: ≥ 95% of the core's lines reached: **{'met' if cov_line[0] >= 95 else 'not met'}** ({cov_line[0]}%).")
else:
    w(f"Skipped ({'--smoke' if args.mode == 'smoke' else '--no-coverage'}); run `scripts/coverage.sh`.")
w("")
w("## 5. Memory")
w("")
w(f"A {args.rss_seconds}-second campaign, variant `merged`, from corpus/seeds (single worker): "
  f"{fmt_n(camp_execs)} executions in {fmt_s(wall)}, {camp_files} corpus files"
  + (f", final cov {camp_cov[-1][0]} ft {camp_cov[-1][1]}" if camp_cov else "")
  + (f"; the campaign hit {len(camp_viols)} violation(s) ({', '.join(sorted(set(camp_viols)))}) and was restarted "
     f"on its corpus each time, so it ran as {len(camp_viols) + 1} processes (peak = the largest)" if camp_viols else "") + ".")
w("")
w(f"- Peak RSS (libFuzzer `stat::peak_rss_mb`): **{rss_mb if rss_mb is not None else 'n/a'} MB**")
if time_rss_mb is not None:
    w(f"- Peak RSS (`/usr/bin/time` max resident): {time_rss_mb:.0f} MB")
w("")
w("## 6. Bug zoo")
w("")
zoo_md = os.path.join(OUT, "zoo.md")
if os.path.exists(zoo_md):
    # scripts/zoo.sh runs far longer than this benchmark (5 seeds x 5 minutes per variant), so its
    # last table is included as it was written, with its own date and command line.
    with open(zoo_md) as f:
        w(f.read().rstrip("\n"))
else:
    w("Not run yet: `scripts/zoo.sh` (about 40 minutes on 2 cores) writes bench/zoo.md, which this report includes.")
w("")
w(f"Total benchmark time: {fmt_s(time.monotonic() - T0)} (after the builds).")
report = "\n".join(L) + "\n"

# ---------------------------------------------------------------- the chart
COLORS = {"lf-empty": "#1f77b4", "lf-seeds": "#2ca02c", "hunt": "#d62728"}


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def panel(x0, y0, pw, ph, key, title, unit_fmt, goal=None):
    vals = [r[key] for rs in ttb.values() for r in rs if r[key] > 0]
    lo = 10 ** math.floor(math.log10(min(vals))) if vals else 1e-3
    hi = 10 ** math.ceil(math.log10(max(vals) * 1.01)) if vals else 1
    if goal:
        lo, hi = min(lo, goal / 10), max(hi, goal * 10)
    if hi / lo < 100:
        hi = lo * 100
    ml, mb, mt = 64, 46, 40
    ax_x, ax_y, ax_w, ax_h = x0 + ml, y0 + mt, pw - ml - 10, ph - mt - mb

    def Y(v):
        v = max(v, lo)
        return ax_y + ax_h - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ax_h
    s = [f'<text x="{x0 + pw / 2}" y="{y0 + 16}" text-anchor="middle" font-size="14" font-weight="bold">{esc(title)}</text>']
    e = math.floor(math.log10(lo))
    while 10 ** e <= hi * 1.0001:
        yy = Y(10 ** e)
        s.append(f'<line x1="{ax_x}" y1="{yy:.1f}" x2="{ax_x + ax_w}" y2="{yy:.1f}" stroke="#ddd"/>')
        s.append(f'<text x="{ax_x - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11">{esc(unit_fmt(10 ** e))}</text>')
        e += 1
    s.append(f'<line x1="{ax_x}" y1="{ax_y}" x2="{ax_x}" y2="{ax_y + ax_h}" stroke="#000"/>')
    s.append(f'<line x1="{ax_x}" y1="{ax_y + ax_h}" x2="{ax_x + ax_w}" y2="{ax_y + ax_h}" stroke="#000"/>')
    s.append(f'<text x="{x0 + 14}" y="{ax_y + ax_h / 2}" text-anchor="middle" font-size="11" '
             f'transform="rotate(-90 {x0 + 14} {ax_y + ax_h / 2})">{esc(title.split(" to ")[0])} (log scale)</text>')
    if goal:
        yy = Y(goal)
        s.append(f'<line x1="{ax_x}" y1="{yy:.1f}" x2="{ax_x + ax_w}" y2="{yy:.1f}" stroke="#888" stroke-dasharray="6 4"/>')
        s.append(f'<text x="{x0 + pw / 2}" y="{y0 + 30}" text-anchor="middle" font-size="10" fill="#555">'
                 f'dashed line: goal, median &lt; 1 s for libFuzzer from an empty corpus</text>')
    gw = ax_w / len(VARIANTS)
    bw = gw / (len(METHODS) + 1.2)
    for gi, v in enumerate(VARIANTS):
        gx = ax_x + gi * gw + bw * 0.6
        s.append(f'<text x="{ax_x + gi * gw + gw / 2:.1f}" y="{ax_y + ax_h + 18}" text-anchor="middle" font-size="12">{esc(v)}</text>')
        for mi, (m, _) in enumerate(METHODS):
            rs = ttb[(v, m)]
            st = summary[(v, m)][key]
            bx = gx + mi * bw
            c = COLORS[m]
            yb = Y(st[0])
            if rs:
                fill = f'url(#hatch-{m})' if st[1] else c
                s.append(f'<rect x="{bx + 2:.1f}" y="{yb:.1f}" width="{bw - 4:.1f}" height="{ax_y + ax_h - yb:.1f}" '
                         f'fill="{fill}" fill-opacity="0.55" stroke="{c}"/>')
                ym = Y(st[2])
                cx = bx + bw / 2
                s.append(f'<line x1="{cx:.1f}" y1="{ym:.1f}" x2="{cx:.1f}" y2="{yb:.1f}" stroke="#000"/>')
                s.append(f'<line x1="{cx - 5:.1f}" y1="{ym:.1f}" x2="{cx + 5:.1f}" y2="{ym:.1f}" stroke="#000"/>')
                for k, r in enumerate(rs):
                    px = bx + 5 + (bw - 10) * (k + 0.5) / len(rs)
                    py = Y(r[key])
                    if r["found"]:
                        s.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.2" fill="#000"/>')
                    else:   # a lower bound: an up-pointing triangle
                        s.append(f'<path d="M{px - 4:.1f},{py + 3:.1f} L{px + 4:.1f},{py + 3:.1f} L{px:.1f},{py - 5:.1f} Z" fill="none" stroke="#000"/>')
                lbl = ("≥" if st[1] else "") + unit_fmt(st[0], short=True)
                s.append(f'<text x="{cx:.1f}" y="{min(yb, ym) - 5:.1f}" text-anchor="middle" font-size="9">{esc(lbl)}</text>')
    return s


def sec_fmt(x, short=False):
    if x >= 1:
        return f"{x:g} s" if not short else f"{x:.2f}s"
    if x >= 1e-3:
        return f"{x * 1e3:g} ms" if not short else f"{x * 1e3:.0f}ms"
    return f"{x * 1e6:g} µs"


def n_fmt(x, short=False):
    if short:
        return f"{x:,.0f}" if x < 1e7 else f"{x:.2g}"
    return f"{x:,.0f}"


W, H = 1100, 520
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif">',
       '<defs>']
for m, c in COLORS.items():
    svg.append(f'<pattern id="hatch-{m}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
               f'<rect width="6" height="6" fill="#fff"/><line x1="0" y1="0" x2="0" y2="6" stroke="{c}" stroke-width="3"/></pattern>')
svg.append('</defs>')
svg.append(f'<rect width="{W}" height="{H}" fill="#fff"/>')
svg.append(f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">'
           f'svmfuzz: time to the first violation ({args.seeds} seeds per bar)</text>')
svg.append(f'<text x="{W / 2}" y="40" text-anchor="middle" font-size="11" fill="#444">'
           f'{esc(NOW)} · {esc(MACHINE)} · bar = median, whisker = max, dots = seeds · hatched bar / ▵ = lower bound (budget used up, nothing found)</text>')
svg += panel(0, 50, W / 2, H - 100, "secs", "wall seconds to first violation", sec_fmt, goal=1.0)
svg += panel(W / 2, 50, W / 2, H - 100, "execs", "executions to first violation", n_fmt)
lx = 150
for m, label in METHODS:
    svg.append(f'<rect x="{lx}" y="{H - 30}" width="14" height="14" fill="{COLORS[m]}" fill-opacity="0.55" stroke="{COLORS[m]}"/>')
    svg.append(f'<text x="{lx + 20}" y="{H - 18}" font-size="12">{esc(label)}</text>')
    lx += 260
svg.append('</svg>')

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "report.md"), "w") as f:
    f.write(report)
with open(os.path.join(OUT, "report.svg"), "w") as f:
    f.write("\n".join(svg) + "\n")
with open(os.path.join(OUT, "results.json"), "w") as f:
    json.dump({"date": NOW, "machine": MACHINE, "speed": speed, "rates": R, "core_ops_per_s": core_rate,
               "time_to_bug": {f"{v}/{m}": rs for (v, m), rs in ttb.items()},
               "peak_rss_mb": rss_mb}, f, indent=1)
shutil.rmtree(WORK, ignore_errors=True)
sys.stdout.write(report)
log(f"done: {OUT}/report.md, {OUT}/report.svg")
