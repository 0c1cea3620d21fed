#!/usr/bin/env python3
"""Differential fuzzing, model vs real KVM (scripts/kvm-oracle.sh --campaign calls this).

  scripts/kvm-oracle.sh --campaign [--kernel 6.12|6.1] [--minutes N] [--programs N] [--source fuzz|hunt]
                        [--seed S] [--batch N] [--out DIR] [--max-minimize N]

1. programs: `hunt` = `svmfuzz generate` (seeds mutated by the operation mutator, random byte inputs);
   `fuzz` = scripts/fuzz.sh --variant linux-<kernel> (libFuzzer on the model configured as the kernel),
   its grown corpus decoded with `svmfuzz decode`. Programs the oracle cannot boot for
   (not nested=1 npt=1 vgif=1) are skipped by the oracle (counted as not run).
2. batches of --batch programs, one boot each: `svmfuzz oracle BATCH --json`; every DISAGREE is kept.
3. each disagreement (at most --max-minimize per (field, operation kind), smallest programs first) is
   minimized by `svmfuzz oracle-minimize` (one boot per round of candidates).
4. minimized findings grouped by (field, kind of the first differing operation); each group's smallest
   program goes to OUT/findings/<group>.svm with a header; a summary table is printed.
5. programs/s (boots included), disagreements per 1000 programs, seconds per minimization.
Collection stops at 60% of --minutes (or after --programs programs); minimization uses the rest.

  scripts/kvm-oracle.sh --campaign --rejudge OUT [--kernel K]

judges every program of a finished campaign in OUT again with today's model, against the records the
kernel wrote then (no boot): the same counts and raw groups, to measure a model fix on what a campaign
found ("before and after fixing") without running the kernel again.
"""
import argparse, json, os, re, shutil, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(msg):
    print("kvm-campaign: " + msg, file=sys.stderr, flush=True)


def sh(args, **kw):
    return subprocess.run(args, cwd=ROOT, text=True, **kw)


def plan_name(path):
    while path.startswith("./"):
        path = path[2:]
    if path.endswith(".svm"):
        path = path[:-4]
    return path.replace("/", "__")


def oracle_batch(svmfuzz, kernel, batch_dir, work, retries=8):
    """Runs the oracle on a folder. A program that stalls the whole VM (kvm-oracle.sh names it in
    records/stalled-program, with the CPU state QEMU's monitor showed) is moved to OUT/stalled/; the
    programs that finished before it are judged from their records without booting again, and only
    the rest of the batch is run again."""
    results, summary, took = oracle_boot(svmfuzz, kernel, batch_dir, work)
    stalled_file = os.path.join(work, "records", "stalled-program")
    salvaged = 0
    while summary is None and retries > 0 and os.path.exists(stalled_file):
        bad = open(stalled_file).read().strip()
        os.remove(stalled_file)
        if not bad or not os.path.exists(bad):
            break
        dest = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(batch_dir))), "stalled")
        os.makedirs(dest, exist_ok=True)
        os.replace(bad, os.path.join(dest, os.path.basename(bad)))
        state = os.path.join(work, "records", "stall-state.txt")
        if os.path.exists(state):
            os.replace(state, os.path.join(dest, os.path.basename(bad)[:-4] + ".state.txt"))
        # Programs with records finished before the stall: judge them from those records.
        # Records are named after the program's path, so they move with it.
        done_dir = f"{batch_dir}-done{salvaged}"
        done_records = f"{work}-done{salvaged}"
        os.makedirs(done_dir, exist_ok=True)
        os.makedirs(done_records, exist_ok=True)
        for f in sorted(os.listdir(batch_dir)):
            path = os.path.abspath(os.path.join(batch_dir, f))
            rec = os.path.join(work, "records", plan_name(path) + ".jsonl")
            if os.path.exists(rec):
                moved = os.path.abspath(os.path.join(done_dir, f))
                os.replace(path, moved)
                os.replace(rec, os.path.join(done_records, plan_name(moved) + ".jsonl"))
        salvaged += 1
        judged, _ = oracle_records(svmfuzz, kernel, done_dir, done_records, done_records)
        results += judged
        log(f"{bad} stalled the VM: kept in {dest}; {len(judged)} programs judged from their records, "
            f"{len(os.listdir(batch_dir))} run again")
        retries -= 1
        more_results, summary, more = oracle_boot(svmfuzz, kernel, batch_dir, work)
        results += more_results
        took += more
    if summary is None and results:
        summary = {"summary": True, "salvaged": True}
    return results, summary, took


def oracle_records(svmfuzz, kernel, programs, records, log_base):
    """svmfuzz oracle --records: judges programs against records already written (no boot)."""
    p = sh([svmfuzz, "oracle", os.path.join(ROOT, programs), "--kernel", kernel, "--records", records, "--json"],
           stdout=subprocess.PIPE, stderr=open(log_base + ".log", "w"))
    return parse_oracle_json(p.stdout)


def parse_oracle_json(text):
    results, summary = [], None
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        o = json.loads(line)
        if o.get("summary"):
            summary = o
        else:
            results.append(o)
    return results, summary


def oracle_boot(svmfuzz, kernel, batch_dir, work):
    """Runs one boot of the oracle on a folder; returns (results, summary, seconds)."""
    t0 = time.time()
    # Absolute: plan files are named after the program's path, and one starting with "." would be hidden.
    p = sh([svmfuzz, "oracle", os.path.join(ROOT, batch_dir), "--kernel", kernel, "--work", work, "--json"],
           stdout=subprocess.PIPE, stderr=open(work + ".log", "w"))
    took = time.time() - t0
    results, summary = parse_oracle_json(p.stdout)
    if summary is None:
        log(f"the oracle failed on {batch_dir} (exit {p.returncode}); see {work}.log")
    return results, summary, took


def fuzz_programs(svmfuzz, kernel, seconds, seed, dest, seen):
    """One libFuzzer run on the model as the kernel; decodes its new corpus files into dest."""
    log(f"fuzzing linux-{kernel} for {seconds} s (seed {seed})")
    p = sh([os.path.join(ROOT, "scripts/fuzz.sh"), "--variant", f"linux-{kernel}", "--seconds", str(seconds),
            "--seed", str(seed)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    log("fuzz.sh: " + (p.stdout.strip().splitlines() or ["(no result)"])[-1])
    corpus = os.path.join(ROOT, f".fuzz/linux-{kernel}/corpus")
    os.makedirs(dest, exist_ok=True)
    n = 0
    for f in sorted(os.listdir(corpus)) if os.path.isdir(corpus) else []:
        if f in seen:
            continue
        seen.add(f)
        d = sh([svmfuzz, "decode", os.path.join(corpus, f)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if d.returncode == 0 and d.stdout.strip():
            with open(os.path.join(dest, f"fuzz-{f[:16]}.svm"), "w") as out:
                out.write(d.stdout)
            n += 1
    return n


def known_entries():
    out = []
    for line in open(os.path.join(ROOT, "corpus/oracle-known.txt")):
        line = line.strip()
        if line and not line.startswith("#"):
            parts = line.split(None, 4)
            if len(parts) == 5:
                out.append(parts)
    return out


def main():
    # A stall costs its detection time; a healthy program writes a record at least every KVM_RUN time
    # limit (2 s), so 45 s without one is a stall even on a loaded machine.
    os.environ.setdefault("SVMFUZZ_KVM_STALL_S", "45")
    ap = argparse.ArgumentParser(prog="kvm-oracle.sh --campaign")
    ap.add_argument("--kernel", default="6.12", choices=["6.12", "6.1"])
    ap.add_argument("--minutes", type=float, default=15)
    ap.add_argument("--programs", type=int, default=0, help="stop collecting after this many programs (0: by time)")
    ap.add_argument("--source", default="hunt", choices=["hunt", "fuzz"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=300)
    ap.add_argument("--max-minimize", type=int, default=3, help="disagreements minimized per (field, kind)")
    ap.add_argument("--out", default=".build-kvm/campaign")
    ap.add_argument("--rejudge", metavar="OUT", help="judge a finished campaign's programs again from its records")
    a = ap.parse_args()

    svmfuzz = sh(["bash", "-c", "source scripts/lib.sh && svmfuzz_bin"], stdout=subprocess.PIPE).stdout.strip()
    if a.rejudge:
        return rejudge(svmfuzz, a.kernel, a.rejudge)
    out = os.path.relpath(os.path.join(ROOT, a.out), ROOT) if not os.path.isabs(a.out) else a.out
    for sub in ("programs", "work", "minimized", "findings", "findings-records"):
        shutil.rmtree(os.path.join(ROOT, out, sub), ignore_errors=True)
        os.makedirs(os.path.join(ROOT, out, sub))
    t_start = time.time()
    deadline = t_start + a.minutes * 60
    collect_until = t_start + a.minutes * 60 * 0.6

    # --- 1, 2: programs, batches, disagreements --------------------------------------------------
    ran = booted_s = 0
    disagreements = []
    fuzz_seen = set()
    batch = 0
    pending = []          # fuzz programs not yet run
    while time.time() < collect_until and (a.programs == 0 or ran < a.programs):
        bdir = f"{out}/programs/batch-{batch:03d}"
        want = a.batch if a.programs == 0 else min(a.batch, a.programs - ran)
        if a.source == "hunt":
            sh([svmfuzz, "generate", "--count", str(want), "--seed", str(a.seed * 1000 + batch), "-o", bdir],
               stdout=subprocess.DEVNULL, check=True)
        else:
            if not pending:
                pool = f"{out}/programs/fuzz-pool"
                fuzz_programs(svmfuzz, a.kernel, 60, a.seed + batch, pool, fuzz_seen)
                pending = sorted(os.path.join(pool, f) for f in os.listdir(pool))
                shutil.rmtree(os.path.join(ROOT, pool + ".taken"), ignore_errors=True)
                if not pending:
                    log("the fuzzer's corpus has no new programs")
                    continue
            os.makedirs(bdir)
            for f in pending[:want]:
                shutil.move(f, bdir)
            pending = pending[want:]
        results, summary, took = oracle_batch(svmfuzz, a.kernel, bdir, f"{out}/work/batch-{batch:03d}")
        batch += 1
        if summary is None:
            continue
        # Counted from the results, which a stalled batch gathers over several boots.
        count = lambda v: sum(1 for r in results if r["verdict"] == v)
        n = len(results) - count("not-run")
        ran += n
        booted_s += took
        new = [r for r in results if r["verdict"] == "disagree"]
        disagreements += new
        log(f"batch {batch - 1}: {n} programs in {took:.1f} s, {count('agree')} agree, {count('known')} known, "
            f"{len(new)} disagree, {count('no-records')} without records, {count('not-run')} not run")

    # --- 3: minimization --------------------------------------------------------------------------
    def kind(op):
        return (op.split() or ["?"])[0]

    raw_groups = {}
    for d in disagreements:
        raw_groups.setdefault((d["field"], kind(d["operation"])), []).append(d)
    chosen = []
    for key, ds in raw_groups.items():
        ds.sort(key=lambda d: sum(1 for _ in open(os.path.join(ROOT, d["program"]))))
        chosen += ds[:a.max_minimize]
    chosen.sort(key=lambda d: len(raw_groups[(d["field"], kind(d["operation"]))]), reverse=True)
    minimized, min_times = [], []
    for i, d in enumerate(chosen):
        if time.time() > deadline:
            log(f"out of time: {len(chosen) - i} disagreements not minimized")
            break
        o = f"{out}/minimized/m{i:03d}.svm"
        work = f"{out}/work/min-{i:03d}"
        t0 = time.time()
        p = sh([svmfuzz, "oracle-minimize", d["program"], "--kernel", a.kernel, "--work", work, "-o", o, "--json"],
               stdout=subprocess.PIPE, stderr=open(work + ".log", "w"))
        min_times.append(time.time() - t0)
        line = (p.stdout.strip().splitlines() or [""])[-1]
        if p.returncode != 0 or not line.startswith("{"):
            log(f"minimizing {d['program']} failed (exit {p.returncode}; flaky? see {work}.log)")
            continue
        m = json.loads(line)
        m["work"] = work
        m["raw_group"] = (d["field"], kind(d["operation"]))
        minimized.append(m)
        log(f"minimized {d['program']}: {m['ops_before']} -> {m['ops_after']} ops, {m['field']} at {m['kind']}, "
            f"{m['boots']} boots, {min_times[-1]:.0f} s")

    # --- 4: classification ------------------------------------------------------------------------
    groups = {}
    for m in minimized:
        groups.setdefault(f"{m['field']}--{m['kind']}", []).append(m)
    known = known_entries()
    rows = []
    for g, ms in sorted(groups.items()):
        best = min(ms, key=lambda m: m["ops_after"])
        dest = f"{out}/findings/{g}.svm"
        body = open(os.path.join(ROOT, best["output"])).read()
        source = os.path.relpath(best["program"], ROOT)
        body = "".join(l for l in body.splitlines(True) if not l.startswith("# "))
        count = sum(len(raw_groups[m["raw_group"]]) for m in {m["raw_group"]: m for m in ms}.values())
        with open(os.path.join(ROOT, dest), "w") as f:
            f.write(f"# campaign finding {g} on linux {a.kernel} (model linux-{a.kernel}, guest without NRIPS)\n"
                    f"# first difference: step {best['step']} {best['operation']}: {best['field']} "
                    f"model={best['model']} kernel={best['kernel_value']}\n"
                    f"# minimized from {source} ({best['ops_before']} -> {best['ops_after']} operations); "
                    f"{count} campaign disagreements fell into this group\n"
                    f"# reproduce: svmfuzz oracle {dest} --kernel {a.kernel} --work DIR\n" + body)
        shutil.copy(os.path.join(ROOT, best["work"], "all-records", best["keep"] + ".jsonl"),
                    os.path.join(ROOT, out, "findings-records", plan_name(dest) + ".jsonl"))
        rows.append([g, count, best["ops_after"], best["model"], best["kernel_value"], dest, best["field"]])
    verdicts = {}
    if rows:
        p = sh([svmfuzz, "oracle", f"{out}/findings", "--kernel", a.kernel, "--records", f"{out}/findings-records",
                "--json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for line in p.stdout.splitlines():
            o = json.loads(line)
            if not o.get("summary"):
                verdicts[o["program"]] = o
    print()
    print(f"campaign on linux {a.kernel} ({a.source}, seed {a.seed}): findings in {out}/findings/")
    table = [["group", "count", "min ops", "model", "kernel", "oracle-known.txt?"]]
    for g, count, ops, model, kern, dest, field in rows:
        v = verdicts.get(dest, {})
        if v.get("verdict", "").startswith("known"):
            match = "yes: " + v["verdict"]
        elif v.get("verdict") == "disagree":
            like = sorted({e[3] + ":" + os.path.basename(e[1]) for e in known if e[2] in (field, "*")})
            match = "no" + (" (same field: " + ", ".join(like) + ")" if like else "")
        else:
            match = "? " + v.get("verdict", "not re-judged")
        table.append([g, str(count), str(ops), model, kern, match])
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())

    # --- 5: measurements --------------------------------------------------------------------------
    total = time.time() - t_start
    pps = ran / booted_s if booted_s else 0
    per_k = 1000 * len(disagreements) / ran if ran else 0
    avg_min = sum(min_times) / len(min_times) if min_times else 0
    print()
    print(f"programs run: {ran} in {batch} boots, {booted_s:.0f} s: {pps:.1f} programs/s (boots included)")
    print(f"disagreements: {len(disagreements)} ({per_k:.1f} per 1000 programs) in {len(raw_groups)} raw groups; "
          f"minimized {len(minimized)} of {len(chosen)} chosen, {avg_min:.1f} s per minimization; "
          f"{len(groups)} groups after minimization")
    print(f"campaign wall time: {total / 60:.1f} min")
    with open(os.path.join(ROOT, out, "campaign.json"), "w") as f:
        json.dump({"kernel": a.kernel, "source": a.source, "seed": a.seed, "programs": ran, "boots": batch,
                   "oracle_seconds": booted_s, "programs_per_s": pps, "disagreements": disagreements,
                   "per_1000": per_k, "minimized": minimized, "seconds_per_minimization": avg_min,
                   "groups": {g: [m["output"] for m in ms] for g, ms in groups.items()}}, f, indent=1)


def rejudge(svmfuzz, kernel, out):
    """--rejudge: every batch folder OUT/programs/B against OUT/work/B/records (OUT/work/B for the
    folders of programs salvaged from a stalled boot), with the model of this revision."""
    pdir = os.path.join(out, "programs")
    if not os.path.isdir(pdir):
        sys.exit(f"kvm-campaign: {out}: no programs/ folder (not a campaign's output)")
    results = []
    for b in sorted(os.listdir(pdir)):
        records = os.path.join(out, "work", b, "records")
        if not os.path.isdir(records):
            records = os.path.join(out, "work", b)
        if not os.path.isdir(records) or not os.listdir(os.path.join(pdir, b)):
            continue
        judged, _ = oracle_records(svmfuzz, kernel, os.path.abspath(os.path.join(pdir, b)), os.path.abspath(records),
                                   os.path.join("/tmp", f"rejudge-{os.getpid()}-{b}"))
        results += judged
    count = lambda v: sum(1 for r in results if r["verdict"] == v)
    played = len(results) - count("not-run") - count("no-records")
    groups = {}
    for r in results:
        if r["verdict"] == "disagree":
            groups.setdefault((r["field"], (r["operation"].split() or ["?"])[0]), []).append(r)
    dis = count("disagree")
    print(f"re-judged {out} (linux {kernel}) with this revision's model: {len(results)} programs, "
          f"{count('agree')} agree, {count('known')} known, {dis} disagree, {count('not-run')} not run now, "
          f"{count('no-records')} without records; {1000 * dis / played if played else 0:.1f} disagreements per 1000 played")
    listing = os.path.join(out, "rejudged-disagreements.txt")
    with open(listing, "w") as f:
        for (field, kind), rs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            shortest = min(rs, key=lambda r: sum(1 for _ in open(r["program"])))
            print(f"  {len(rs):4d}  {field} at {kind}  e.g. {shortest['program']} step {shortest['step']}: "
                  f"model={shortest['model']} kernel={shortest['kernel']}")
            for r in rs:
                f.write(f"{field} at {kind}\t{r['program']}\tstep {r['step']}\tmodel={r['model']}\tkernel={r['kernel']}\n")
    print(f"every disagreement, by group: {listing}")


if __name__ == "__main__":
    main()
