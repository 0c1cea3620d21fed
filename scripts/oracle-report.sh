#!/usr/bin/env bash
# The real-KVM results of the README: the whole corpus through `svmfuzz oracle` on Debian's 6.1 and
# 6.12 kernels (one QEMU/TCG boot each), the EFER.SVME series on patched 6.12 (scripts/series-on-kvm.sh)
# and the bug zoo on both kernels and on 6.12 with the fixes reverted (scripts/zoo-on-kvm.sh --reverts); written to bench/oracle.md and into
# README.md between the oracle markers. About 3 minutes.
#   scripts/oracle-report.sh [--kernels "6.12 6.1"] [--no-readme]
source "$(dirname "$0")/lib.sh"
kernels="6.12 6.1" readme=1
while [ $# -gt 0 ]; do
    case "$1" in
        --kernels) kernels="${2:?--kernels needs a list}"; shift 2 ;;
        --no-readme) readme=0; shift ;;
        -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
mkdir -p "$ROOT/bench"
out="$ROOT/bench/oracle"
rm -rf "$out"; mkdir -p "$out"
started="$(date -u '+%Y-%m-%d %H:%M UTC')"
for k in $kernels; do
    echo "oracle-report: kernel $k" >&2
    "$ROOT/scripts/kvm-oracle.sh" --kernel "$k" --json corpus/ > "$out/$k.jsonl" 2> "$out/$k.log" || true
    grep -q '"summary"' "$out/$k.jsonl" || die "no summary from kernel $k (see $out/$k.log)"
done
python3 - "$out" "$started" $kernels > "$ROOT/bench/oracle.md" <<'EOF'
import json, re, sys
out, started, kernels = sys.argv[1], sys.argv[2], sys.argv[3:]
print(f"Latest run: {started}, `scripts/oracle-report.sh` (the corpus through `svmfuzz oracle`, one QEMU/TCG boot per kernel).\n")
print("| kernel | programs | agree | known: kvm-bug | known: runner | known: tcg | known: model-pending | disagree | not run | with kernel WARNING | programs/s |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
rows = []
for k in kernels:
    results = [json.loads(l) for l in open(f"{out}/{k}.jsonl") if l.startswith("{")]
    s = next(r for r in results if r.get("summary"))
    log = open(f"{out}/{k}.log").read() + open(f"{out}/{k}.jsonl").read()
    m = re.search(r"\(([\d.]+) programs/s\)", log)
    c = s["by_cause"]
    print(f"| Debian {k} | {s['programs']} | {s['agree']} | {c.get('kvm-bug', 0)} | {c.get('runner', 0)} | {c.get('tcg', 0)} "
          f"| {c.get('model-pending', 0)} | {s['disagree']} | {s['not_run']} | {s['with_warnings']} | {m.group(1) if m else '?'} |")
    rows += [(k, r) for r in results if not r.get("summary") and r["verdict"] not in ("agree", "agree-until-unsupported")]
if rows:
    print("\nEvery program that does not simply agree:\n")
    for k, r in rows:
        what = f"step {r['step']} {r['operation']}: {r['field']} model={r['model']} kernel={r['kernel']}" if "step" in r else ""
        print(f"- {k} `{r['program']}`: {r['verdict']}{' — ' + what if what else ''}")
EOF
echo "oracle-report: the series on patched 6.12, the zoo on both kernels" >&2
bin="${SVMFUZZ:-$(svmfuzz_bin)}"
SVMFUZZ="$bin" "$ROOT/scripts/series-on-kvm.sh" > "$out/series.log" 2>&1 || die "series-on-kvm.sh failed (see $out/series.log)"
SVMFUZZ="$bin" "$ROOT/scripts/zoo-on-kvm.sh" --reverts > "$out/zoo.log" 2>&1 || die "zoo-on-kvm.sh failed (see $out/zoo.log)"
python3 - "$ROOT/bench" >> "$ROOT/bench/oracle.md" <<'EOF'
import sys
bench = sys.argv[1]
rows = [[c.strip() for c in l.split("|")[1:-1]] for l in open(f"{bench}/series-on-kvm.md")
        if l.startswith("| ") and not l.startswith("| variant")]
print("\nThe 2026 EFER.SVME series on Debian 6.12.117 rebuilt with `scripts/kvm-patches/<variant>.patch` "
      "(`scripts/series-on-kvm.sh`: the thread's scenarios and the series regressions, every one on every variant):\n")
print("| variant | scenarios | agree | known | model on the thread's scenario (seed 03) | real 6.12 + variant on it |")
print("|---|---|---|---|---|---|")
by = {}
for r in rows:
    by.setdefault(r[0], []).append(r)
for v, rs in by.items():
    seed = next((r for r in rs if r[1].startswith("seeds/03")), rs[0])
    agree = sum(1 for r in rs if r[5] == "agree")
    known = sum(1 for r in rs if r[5].startswith("known"))
    print(f"| {v} | {len(rs)} | {agree} | {known} | {seed[3]} | {seed[4]} |")
zoo = [l for l in open(f"{bench}/zoo-on-kvm.md") if l.startswith("|")]
print("\nThe bug zoo on the real kernels (`scripts/zoo-on-kvm.sh`: each zoo regression compared with the "
      "kernel's model with and without the fix; `real` says which one the kernel agrees with; `real 6.12 + "
      "revert`: the bugs both kernels have fixed, on 6.12.117 rebuilt with `scripts/kvm-patches/zoo-reverts-6.12.patch`, "
      "which undoes those fixes, where BUG means the bug's symptom shows on real KVM):\n")
print("".join(zoo), end="")
EOF
cat "$ROOT/bench/oracle.md"
if [ "$readme" = 1 ]; then
    python3 - "$ROOT/README.md" "$ROOT/bench/oracle.md" <<'EOF'
import sys
readme, table = sys.argv[1], open(sys.argv[2]).read()
text = open(readme).read()
begin, end = "<!-- oracle:begin -->", "<!-- oracle:end -->"
if begin not in text or end not in text:
    sys.exit("README.md has no oracle markers")
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(readme, "w").write(head + begin + "\n" + table + end + tail)
EOF
    echo "oracle-report: README.md updated" >&2
fi
