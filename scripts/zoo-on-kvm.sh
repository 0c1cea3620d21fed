#!/usr/bin/env bash
# Issue 12 §2: the bug zoo against the real kernels. Boots each Debian kernel (6.1, 6.12) once under
# QEMU/TCG and replays every corpus/regressions/zoo-*/ program on it, then compares those records
# with two models of the kernel: linux-<k> WITH the zoo bug's fixes (--fixes +f...) and WITHOUT them
# (--fixes -f...). Only "without" agrees: the kernel has the bug; only "with": it has the fix; both:
# the program cannot tell; neither: a model or runner problem. Prints a Markdown table (and writes it
# to bench/zoo-on-kvm.md) with the model's membership (Sources/SVMModel/KvmFixes.swift) next to it.
#
#   scripts/zoo-on-kvm.sh [--no-boot] [--reverts] [KERNEL...]      (default: 6.1 6.12)
#     --no-boot   compare with the records of an earlier run instead of booting
#     --reverts   also boot 6.12 with scripts/kvm-patches/zoo-reverts-6.12.patch (the fixes of the zoo
#                 bugs both kernels have fixed, undone) and replay those bugs' regressions on it: the
#                 "real 6.12 + revert" column, where BUG means the bug's symptom shows on real KVM
# Work folders: .build-kvm/zoo-<kernel> (ZOO_WORK=<prefix> changes them). SVMFUZZ overrides the binary.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
BOOT=1 REVERTS=0
REVERTED=(zoo-B04 zoo-B08 zoo-B16 zoo-B23)    # the bugs zoo-reverts-6.12.patch re-introduces
while [ $# -gt 0 ]; do
  case $1 in
    --no-boot) BOOT=0; shift;;
    --reverts) REVERTS=1; shift;;
    *) break;;
  esac
done
KERNELS=("$@")
[ ${#KERNELS[@]} -gt 0 ] || KERNELS=(6.1 6.12)
SVMFUZZ=${SVMFUZZ:-$(svmfuzz_bin)}
WORK_BASE=${ZOO_WORK:-.build-kvm/zoo}
"$SVMFUZZ" variants --json > "$WORK_BASE-variants.json"
# zoo-Bnn -> its fixes, comma-separated
fixes_of() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print(",".join(next(v["missingFixes"] for v in d["variants"] if v["name"] == sys.argv[2])))' "$WORK_BASE-variants.json" "$1"
}
for k in "${KERNELS[@]}"; do
  w=$WORK_BASE-$k
  if [ $BOOT = 1 ]; then
    echo "zoo-on-kvm: booting $k" >&2
    "$SVMFUZZ" oracle corpus/regressions/zoo-* --kernel "$k" --work "$w" >&2 || true
  fi
  [ -d "$w/records" ] || die "no records in $w (run without --no-boot first)"
  for d in corpus/regressions/zoo-*; do
    z=$(basename "$d"); f=$(fixes_of "$z")
    # All of the bug's fixes at once, then (for bugs with several) each fix alone.
    sets=("$f"); [[ $f != *,* ]] || sets+=(${f//,/ })
    for fs in "${sets[@]}"; do
      for sign in + -; do
        "$SVMFUZZ" oracle "$d" --kernel "$k" --records "$w/records" --work "$w" \
          --fixes "$sign${fs//,/,$sign}" --json > "$w/$sign$z-$fs.json" || true
      done
    done
  done
done

if [ $REVERTS = 1 ]; then
  # One boot with every revert; each program is compared with linux-6.12 minus all reverted fixes
  # (without) and the same plus its own bug's fixes (with).
  w=$WORK_BASE-6.12-reverts all=""
  for z in "${REVERTED[@]}"; do all+="${all:+,}$(fixes_of "$z")"; done
  if [ $BOOT = 1 ]; then
    echo "zoo-on-kvm: booting 6.12 with zoo-reverts-6.12.patch" >&2
    "$SVMFUZZ" oracle "${REVERTED[@]/#/corpus/regressions/}" --kernel 6.12 --work "$w" \
      --kvm-patch scripts/kvm-patches/zoo-reverts-6.12.patch --fixes "-${all//,/,-}" >&2 || true
  fi
  [ -d "$w/records" ] || die "no records in $w (run without --no-boot first)"
  for z in "${REVERTED[@]}"; do
    f=$(fixes_of "$z") others=""
    for g in ${all//,/ }; do [[ ,$f, == *,$g,* ]] || others+="${others:+,}-$g"; done
    "$SVMFUZZ" oracle "corpus/regressions/$z" --kernel 6.12 --records "$w/records" --work "$w" \
      --fixes "${others}${others:+,}+${f//,/,+}" --json > "$w/+$z-$f.json" || true
    "$SVMFUZZ" oracle "corpus/regressions/$z" --kernel 6.12 --records "$w/records" --work "$w" \
      --fixes "-${all//,/,-}" --json > "$w/-$z-$f.json" || true
  done
fi

mkdir -p bench
python3 - "$WORK_BASE" "${KERNELS[@]}" <<'PY' | tee bench/zoo-on-kvm.md
import json, os, sys
base, kernels = sys.argv[1], sys.argv[2:]
variants = {v["name"]: v for v in json.load(open(f"{base}-variants.json"))["variants"]}
def side(o):
    """One program against one model: agree, known (an explained difference), until (the runner
    cannot play a step: agrees up to it), no, n/a. A WARN the model predicts and the kernel did not
    print is a difference here (the oracle only flags the reverse, because WARN_ON_ONCE prints once
    per boot; each zoo site is hit by one program of the run)."""
    v = o["verdict"]
    if v.startswith("not") or v.startswith("no_records"): return "n/a"
    if v == "disagree": return "no"
    if v.startswith("known"): return "known"
    if v.startswith("agree-until"): return "until"
    if o.get("model_warnings") and not any("WARNING" in w or "BUG" in w for w in o.get("warnings", [])):
        return "no"
    return "agree"
def program_result(w, wo):
    ok = lambda x: x in ("agree", "until")
    if "n/a" in (w, wo): return "not run"
    if ok(w) and ok(wo):
        return "cannot tell" + (" (runner stops early)" if "until" in (w, wo) else "")
    if ok(w): return "fix"
    if ok(wo): return "BUG"
    if w == wo == "known": return "cannot tell (known difference)"
    return f"neither (with: {w}, without: {wo})"
def results(path):
    return {o["program"]: o for o in (json.loads(l) for l in open(path)) if "program" in o} if os.path.exists(path) else {}
def real(k, z, fs):
    w, wo = results(f"{base}-{k}/+{z}-{fs}.json"), results(f"{base}-{k}/-{z}-{fs}.json")
    per = {p: program_result(side(w[p]), side(wo[p])) for p in w if p in wo}
    decided = {r for r in per.values() if r in ("fix", "BUG")}
    if len(decided) == 1: return decided.pop()
    if len(decided) > 1: return "conflict: " + "; ".join(f"{os.path.basename(p)}: {r}" for p, r in per.items())
    return "; ".join(sorted(set(per.values()))) or "no records"
print("# The bug zoo on real Debian kernels (QEMU/TCG; svmfuzz oracle with --fixes +/- the zoo fixes)\n")
print("`model says` = membership in the linux-<k> variant (Sources/SVMModel/KvmFixes.swift): fix = has all of "
      "the listed fixes, BUG = none, partial = some. `real` = which model the kernel's records agree with: fix "
      "(only the model WITH the fixes), BUG (only WITHOUT), cannot tell (both), neither. Bugs with several "
      "fixes get one row per fix as well (that fix alone, the others as in linux-<k>).\n")
reverts = os.path.isdir(f"{base}-6.12-reverts/records")
if reverts:
    print("`real 6.12 + revert`: Debian 6.12.117 with scripts/kvm-patches/zoo-reverts-6.12.patch, which undoes "
          "the fixes of B04, B08, B16 and B23 (fixed in both kernels): BUG = the kernel agrees with the model "
          "without the bug's fix only, i.e. the bug's symptom shows on real KVM.\n")
hdr = ("| bug | fix |" + "".join(f" linux-{k} model says | real {k} |" for k in kernels)
       + (" real 6.12 + revert |" if reverts else "") + " verdict |")
print(hdr); print("|" + "---|" * (hdr.count("|") - 1))
for z in sorted(n for n in variants if n.startswith("zoo-")):
    fixes = variants[z]["missingFixes"]
    for fs in [fixes] + ([[f] for f in fixes] if len(fixes) > 1 else []):
        row, verdict = f"| {z[4:]} | {', '.join(fs)} |", []
        for k in kernels:
            miss = set(variants[f"linux-{k}"]["missingFixes"])
            n = sum(f in miss for f in fs)
            model = "fix" if n == 0 else "BUG" if n == len(fs) else "partial (lacks " + ", ".join(f for f in fs if f in miss) + ")"
            r = real(k, z, ",".join(fs))
            row += f" {model} | {r} |"
            if model.startswith("partial"):
                verdict.append(f"{k}: see the per-fix rows")
            elif r in ("fix", "BUG"):
                if r != model: verdict.append(f"**MISMATCH {k}**")
            elif r.startswith("neither") or r.startswith("conflict"):
                verdict.append(f"**{k}: investigate**")
            else:
                verdict.append(f"{k}: {r}")
        if reverts:
            r = real("6.12-reverts", z, ",".join(fs)) if fs == fixes else ""
            row += f" {r if r != 'no records' else ''} |"
            if r and r != "no records" and r != "BUG": verdict.append(f"6.12 + revert: {r}")
        print(row + " " + ("; ".join(verdict) or "consistent") + " |")
PY
