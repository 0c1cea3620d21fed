#!/usr/bin/env bash
# Line and branch coverage of the core (Sources/SVMModel) reached by the corpus.
#   scripts/coverage.sh [--out DIR] [--no-work] [--corpus VARIANT=DIR]... [--known FILE] [--html]
# Builds FuzzSVM with -profile-generate -profile-coverage-mapping in .build-cov (its own scratch
# path, swift-libfuzzer.md §6), replays with -runs=0:
#   every .svm program of corpus/ (seeds, regressions, series, upstream-tests, divergences,
#   oracle-confirm, coverage; encoded to bytes) and the raw inputs of corpus/regressions under every variant, and
#   each saved work corpus .fuzz/<variant>/corpus under its variant (unless --no-work), and
#   each --corpus DIR under VARIANT (bench.sh passes its campaign corpus);
# merges the profiles with the toolchain's llvm-profdata and reports per file with its llvm-cov.
# Violations of the known issues (--known FILE, default corpus/known-issues.txt) end only their input,
# as in a campaign (bench.sh adds the ones its campaigns went on past). A replay that stops at another
# violation writes no profile: that violation (its `VIOLATION <id>` line) is added to this replay
# set's known issues and the set replayed again, so a regression or zoo input still counts the lines
# it runs up to its violation (a zoo variant's own WARN, say). An input that stops the replay with no
# new violation id (named by its crash-<sha1> artifact) is left out, counted, and the rest replayed.
# Writes DIR/coverage.md (default bench/) and prints it: per file, then the lines no replay reaches
# (as ranges per file); the last line is
#   COVERAGE lines <pct>% regions <pct>% functions <pct>% (<files> files)
# and DIR/coverage.json (the same figures and ranges, for scripts/bench.sh).
# Branch coverage: llvm-cov's branch view comes from clang's branch instrumentation; swiftc emits
# none (every file shows 0/0 branches), so the region column (each `if`/`switch` arm, `&&`/`||`
# operand and `?:` side is a region) stands in for it.
source "$(dirname "$0")/lib.sh"
out="$ROOT/bench" work=1 html=0 extra=() known_file="$ROOT/corpus/known-issues.txt"
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="${2:?--out needs a directory}"; shift 2 ;;
        --no-work) work=0; shift ;;
        --corpus) [[ "${2:-}" == ?*=?* ]] || die "--corpus needs VARIANT=DIR"; extra+=("$2"); shift 2 ;;
        --known) [ -f "${2:-}" ] || die "--known needs a file"; known_file="$2"; shift 2 ;;
        --html) html=1; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"
PROFDATA="$TOOLCHAIN_BIN/llvm-profdata"
LLVMCOV="$TOOLCHAIN_BIN/llvm-cov"
[ -x "$PROFDATA" ] && [ -x "$LLVMCOV" ] || die "no llvm-profdata/llvm-cov next to swift in $TOOLCHAIN_BIN"

SVMFUZZ="$(svmfuzz_bin)"
cd "$ROOT"
build() {
    swift build -c release --product FuzzSVM --sanitize=fuzzer \
        -Xswiftc -profile-generate -Xswiftc -profile-coverage-mapping --scratch-path "$ROOT/.build-cov" >&2
}
# Another session may be editing Sources/ while we build: retry a few times.
for attempt in 1 2 3 4; do
    build && break
    [ "$attempt" = 4 ] && die "building the coverage binary failed"
    sleep 10
done
bin="$ROOT/.build-cov/release/FuzzSVM"
[ -x "$bin" ] || die "$bin was not produced"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/fixed" "$tmp/prof"
n=0
while IFS= read -r f; do
    [ -n "$f" ] || continue
    n=$((n + 1))
    "$SVMFUZZ" encode "$f" -o "$tmp/fixed/$n-$(basename "${f%.svm}").bin" 2>/dev/null \
        || echo "coverage.sh: skipping $f (does not encode)" >&2
done < <(find "$ROOT/corpus" -name '*.svm' 2>/dev/null | sort)
# Raw byte inputs kept in the regressions (anything not .svm).
while IFS= read -r f; do
    [ -n "$f" ] || continue
    n=$((n + 1)); cp "$f" "$tmp/fixed/$n-$(basename "$f")"
done < <(find "$ROOT/corpus/regressions" -type f ! -name '*.svm' ! -name '*.md' ! -name '.*' 2>/dev/null | sort)

variants="$("$SVMFUZZ" variants --names)"
replayed=0 excluded=0 sets=0 went_past=0
# replay <variant> <dir>: the whole directory in one process. A violation ends the process before it
# writes its profile: a new violation id joins this set's known issues and the set is replayed again;
# otherwise the artifact (crash-<sha1 of the input>) names the input, which is set aside, and the rest
# is replayed again. After 60 such rounds the remainder goes one file per process.
replay() {
    local v="$1" dir="$2" f rc round=0 art sum viol
    [ -n "$(ls -A "$dir" 2>/dev/null)" ] || return 0
    sets=$((sets + 1))
    rm -rf "$tmp/set" "$tmp/art"; mkdir -p "$tmp/set" "$tmp/art"
    find "$dir" -maxdepth 1 -type f -exec cp -t "$tmp/set" {} +
    : >"$tmp/known"
    [ -f "$known_file" ] && cp "$known_file" "$tmp/known"
    while :; do
        set +e
        SVMFUZZ_KNOWN="$tmp/known" SVMFUZZ_VARIANT="$v" LLVM_PROFILE_FILE="$tmp/prof/%p-%m.profraw" \
            "$bin" -runs=0 -max_len=1048576 -artifact_prefix="$tmp/art/" "$tmp/set" >"$tmp/log" 2>&1
        rc=$?
        set -e
        if [ "$rc" = 0 ]; then
            replayed=$((replayed + $(find "$tmp/set" -maxdepth 1 -type f | wc -l))); return 0
        fi
        round=$((round + 1))
        [ "$round" -le 60 ] || break
        viol="$(sed -n 's/^VIOLATION \([^ ]*\) .*/\1/p' "$tmp/log" | head -n 1)"
        if [ -n "$viol" ] && ! grep -qxF "$viol upstream=not-known" "$tmp/known"; then
            printf '\n%s upstream=not-known\n' "$viol" >>"$tmp/known"
            went_past=$((went_past + 1))
            rm -rf "$tmp/art"; mkdir -p "$tmp/art"
            continue
        fi
        art="$(grep -oE "Test unit written to [^ ]+" "$tmp/log" | tail -n 1 | sed 's/Test unit written to //')"
        sum="$(basename "${art:-none}" | sed -n 's/^crash-\([0-9a-f]\{40\}\)$/\1/p')"
        [ -n "$sum" ] || break
        local hit=0
        for f in "$tmp/set"/*; do
            if [ "$(sha1sum "$f" | cut -d' ' -f1)" = "$sum" ]; then rm -f "$f"; excluded=$((excluded + 1)); hit=1; fi
        done
        [ "$hit" = 1 ] || break
        rm -f "$art"
    done
    echo "coverage.sh: replay of $dir under $v keeps stopping (rc $rc); replaying file by file" >&2
    for f in "$tmp/set"/*; do
        [ -f "$f" ] || continue
        if env SVMFUZZ_KNOWN="$tmp/known" SVMFUZZ_VARIANT="$v" LLVM_PROFILE_FILE="$tmp/prof/%p-%m.profraw" \
            "$bin" -runs=0 "$f" >/dev/null 2>&1; then
            replayed=$((replayed + 1))
        else
            excluded=$((excluded + 1))
        fi
    done
}
for v in $variants; do replay "$v" "$tmp/fixed"; done
work_dirs=0
if [ "$work" = 1 ]; then
    for d in "$ROOT"/.fuzz/*/corpus; do
        [ -d "$d" ] || continue
        v="$(basename "$(dirname "$d")")"
        grep -qx "$v" <<<"$variants" || continue
        work_dirs=$((work_dirs + 1))
        replay "$v" "$d"
    done
fi
for e in ${extra[@]+"${extra[@]}"}; do
    v="${e%%=*}" d="${e#*=}"
    grep -qx "$v" <<<"$variants" || die "--corpus: unknown variant '$v'"
    [ -d "$d" ] || die "--corpus: '$d' is not a directory"
    work_dirs=$((work_dirs + 1))
    replay "$v" "$d"
done
ls "$tmp"/prof/*.profraw >/dev/null 2>&1 || die "no profile was written (did every replay stop at a violation?)"
"$PROFDATA" merge -sparse "$tmp"/prof/*.profraw -o "$out/coverage.profdata"

sources=("$ROOT"/Sources/SVMModel/*.swift)
"$LLVMCOV" export "$bin" -instr-profile="$out/coverage.profdata" -summary-only "${sources[@]}" >"$tmp/cov.json"
# Line counts per source line: a line with a count of 0 is one no replay reached.
"$LLVMCOV" show "$bin" -instr-profile="$out/coverage.profdata" -show-instantiations=false -use-color=false \
    "${sources[@]}" >"$tmp/lines.txt"
[ "$html" = 1 ] && "$LLVMCOV" show "$bin" -instr-profile="$out/coverage.profdata" -format=html \
    -output-dir="$out/coverage-html" "${sources[@]}" >/dev/null

python3 - "$tmp/cov.json" "$tmp/lines.txt" "$out/coverage.json" "$ROOT" "$replayed" "$excluded" "$sets" "$work_dirs" "$went_past" \
    >"$out/coverage.md" <<'EOF'
import json, os, re, sys
data = json.load(open(sys.argv[1]))
lines_txt, json_out = sys.argv[2], sys.argv[3]
root, replayed, excluded, sets, work_dirs, went_past = sys.argv[4], *map(int, sys.argv[5:])
files = data["data"][0]["files"]
rows = []
tot = {k: [0, 0] for k in ("lines", "regions", "functions", "branches")}
def pct(c, n): return f"{100.0 * c / n:.1f}%" if n else "n/a"
for f in sorted(files, key=lambda f: f["filename"]):
    s = f["summary"]
    for k in tot:
        tot[k][0] += s[k]["covered"]; tot[k][1] += s[k]["count"]
    rows.append((os.path.relpath(f["filename"], root), s))
print(f"Replayed {replayed} inputs ({sets} replay sets: the corpus programs under every variant, "
      f"plus {work_dirs} work corpora); went on past {went_past} violation(s) as known issues of their set; "
      f"{excluded} violating input(s) left out.\n")
print("| File | Lines | Line cov. | Regions | Region cov. | Functions |")
print("|---|---:|---:|---:|---:|---:|")
for name, s in rows:
    l, r, fn = s["lines"], s["regions"], s["functions"]
    print(f"| {name} | {l['covered']}/{l['count']} | {pct(l['covered'], l['count'])} | "
          f"{r['covered']}/{r['count']} | {pct(r['covered'], r['count'])} | {fn['covered']}/{fn['count']} |")
l, r, fn = tot["lines"], tot["regions"], tot["functions"]
print(f"| **total** | {l[0]}/{l[1]} | **{pct(*l)}** | {r[0]}/{r[1]} | **{pct(*r)}** | {fn[0]}/{fn[1]} |")
print()
b = tot["branches"]
print("Branch coverage: " + (f"{pct(*b)} ({b[0]}/{b[1]})" if b[1] else
      "not available for Swift (swiftc emits no branch counters; llvm-cov reports 0/0), so the region column stands in for it") + ".")
print()
# `llvm-cov show` text: a file's path alone on a line ending in ':', then `<line>|<count>|<source>`
# (the count blank where the line holds no code).
unreached, current = {}, None
for line in open(lines_txt):
    m = re.match(r"^\s*(\d+)\|\s*([^|]*)\|", line)
    if m:
        if current and m.group(2).strip() == "0":
            unreached.setdefault(current, []).append(int(m.group(1)))
    elif line.rstrip().endswith(".swift:"):
        current = os.path.relpath(line.rstrip()[:-1], root)
def ranges(ns):
    out = []
    for n in ns:
        if out and n == out[-1][1] + 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return out
print("Lines no replay reaches, per file (ranges):\n")
for name in sorted(unreached):
    rs = ranges(unreached[name])
    print(f"- {name} ({len(unreached[name])}): " + ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in rs))
if not unreached:
    print("- none")
print()
json.dump({"lines": l, "regions": r, "functions": fn, "replayed": replayed, "excluded": excluded, "went_past": went_past,
           "files": {name: {k: [s[k]["covered"], s[k]["count"]] for k in ("lines", "regions", "functions")}
                     for name, s in rows},
           "unreached": {name: ranges(ns) for name, ns in unreached.items()}}, open(json_out, "w"))
print(f"COVERAGE lines {pct(*l)} regions {pct(*r)} functions {pct(*fn)} ({len(rows)} files)")
EOF
cat "$out/coverage.md"
