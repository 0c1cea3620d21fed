#!/usr/bin/env bash
# Issue 12 §1: the 2026 EFER.SVME series on real KVM. For each series variant V, boots Debian's 6.12
# once with kvm.ko/kvm-amd.ko patched by scripts/kvm-patches/V.patch (stock for prefix), replays the
# series scenarios on it and compares them with the model (svmfuzz oracle --svme-clear-of V). Prints
# a Markdown table and writes it to bench/series-on-kvm.md: per variant and scenario, the model's
# verdict on V (svmfuzz replay --variant V), what the patched kernel did at the key step (the first
# EFER.SVME clear, restore, reset or RSM after VMRUN), and the oracle's verdict.
#
#   scripts/series-on-kvm.sh [--no-boot] [VARIANT...]      (default: all five series variants)
#     --no-boot   compare with the records of an earlier run instead of booting
# Work folders: .build-kvm/series-<variant>. SVMFUZZ overrides the svmfuzz binary.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
BOOT=1
[ "${1:-}" = --no-boot ] && { BOOT=0; shift; }
VARIANTS=("$@")
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=(prefix v1-ignore-in-guest v2-set-efer msr-hook merged)
SVMFUZZ=${SVMFUZZ:-$(svmfuzz_bin)}
for v in "${VARIANTS[@]}"; do check_variant "$v"; done
# Every kernel runs every scenario; each variant's table rows are its own (see rows() below).
PROGS=(corpus/seeds/03-clear-efer-svme.svm corpus/regressions/{prefix,v1-ignore-in-guest,v2-set-efer,merged} corpus/series)
WORK_BASE=${SERIES_WORK:-.build-kvm/series}

for v in "${VARIANTS[@]}"; do
  w=$WORK_BASE-$v
  patch=()
  [ "$v" = prefix ] || patch=(--kvm-patch "scripts/kvm-patches/$v.patch")
  if [ $BOOT = 1 ]; then
    echo "series-on-kvm: $v: booting 6.12${patch:+ with ${patch[1]}}" >&2
    "$SVMFUZZ" oracle "${PROGS[@]}" --kernel 6.12 "${patch[@]}" --svme-clear-of "$v" --work "$w" >&2 || true
  fi
  [ -d "$w/records" ] || die "no records in $w (run without --no-boot first)"
  "$SVMFUZZ" oracle "${PROGS[@]}" --kernel 6.12 --svme-clear-of "$v" --records "$w/records" --work "$w" \
    --json > "$w/oracle.json" || true
  for p in $(ls corpus/seeds/03-clear-efer-svme.svm corpus/regressions/{prefix,v1-ignore-in-guest,v2-set-efer,merged}/*.svm corpus/series/*.svm); do
    "$SVMFUZZ" replay --variant "$v" --trace --json "$p" > "$w/model-${p//\//__}.json" || true
  done
done

mkdir -p bench
python3 - "$WORK_BASE" "${VARIANTS[@]}" <<'PY' | tee bench/series-on-kvm.md
import json, os, sys, glob
base, variants = sys.argv[1], sys.argv[2:]
def mangle(p): return p.replace("/", "__")
def key_step(plan):
    """The first EFER.SVME clear (guest WRMSR, KVM_SET_MSRS/SREGS), restore, reset or RSM after
    the first VMRUN (else the first such step, else the last step)."""
    steps, after = [], False
    for l in open(plan):
        t = l.split()
        if not t or t[0] != "step": continue
        n, op = int(t[1]), t[3]
        a = dict(x.split("=", 1) for x in t[4:] if "=" in x)
        efer = a.get("value") if op == "wrmsr" and a.get("msr") == "0xc0000080" else a.get("efer")
        clears = efer is not None and not int(efer, 16) & 0x1000
        hit = clears or op in ("restore", "reset", "rsm")
        steps.append((n, hit, after))
        after = after or op == "vmrun"
    for pick in (lambda s: s[1] and s[2], lambda s: s[1]):
        for s in steps:
            if pick(s): return s[0]
    return steps[-1][0]
print("# The 2026 EFER.SVME series on real KVM (Debian 6.12.117 + scripts/kvm-patches/<variant>.patch, QEMU/TCG)\n")
print("Model: `svmfuzz replay --variant V` (verdict; exit/mode at the key step). Real: the patched kernel's record at "
      "the key step (the first EFER.SVME clear, restore, reset or RSM after VMRUN): exit, mode, RIP owner, pending "
      "triple fault. Oracle: `svmfuzz oracle --svme-clear-of V` over the whole program (first difference).\n")
print("| variant | scenario | key step | model says | real 6.12 + variant did | agree? |")
print("|---|---|---|---|---|---|")
own = lambda v, p: (p.startswith("corpus/seeds/") or p.startswith("corpus/series/") or
                    p.split("/")[2] in ("prefix", "v1-ignore-in-guest", "v2-set-efer") or v == "merged")
for v in variants:
    w = f"{base}-{v}"
    oracle = {}
    for l in open(f"{w}/oracle.json"):
        o = json.loads(l)
        if "program" in o: oracle[o["program"]] = o
    for p, o in oracle.items():
        if not own(v, p): continue
        plans = glob.glob(f"{w}/plans/{mangle(p)[:-4]}.plan")
        if not plans: continue                     # not run (e.g. npt=0: the oracle boots with npt=1)
        k = key_step(plans[0])
        recs = [json.loads(l) for l in open(f"{w}/records/{mangle(p)[:-4]}.jsonl")]
        r = next((r for r in recs if r.get("step") == k), None)
        # `replay --json` prints one line per step, then the verdict line.
        lines = [json.loads(l) for l in open(f"{w}/model-{mangle(p)}.json") if l.strip()]
        m = lines[-1] if lines else {}
        ms = next((s for s in lines[:-1] if s.get("step") == k), {})
        vi = m.get("violation")
        verdict = f"VIOLATION {vi['id']} at step {vi['step']}" if vi else m.get("verdict", "?").upper()
        if m.get("expectFailures"): verdict += f" ({len(m['expectFailures'])} expect failed)"
        model = f"{verdict}; {ms.get('exit', '-')}, {ms.get('mode', '?')}"
        real = (f"{r['exit']}, {r['mode']}, rip {r['rip_owner']}, tf={r['triple_fault']}, ioctl {r['ioctl']}"
                if r else "no record")
        st = o["verdict"]
        if st == "disagree": st = f"**DISAGREE** step {o['step']} {o['field']}: model {o['model']}, kernel {o['kernel']}"
        elif st.startswith("known"): st = f"known ({o.get('cause', '')}: step {o.get('step')} {o.get('field')})"
        name = p.replace("corpus/", "")
        print(f"| {v} | {name} | {k} {ms.get('operation', '').split(' ')[0]} | {model} | {real} | {st} |")
PY
