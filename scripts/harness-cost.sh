#!/usr/bin/env bash
# What one execution of the fuzz target's work (FuzzHarness.run, without libFuzzer) costs, counted
# by valgrind (the same figure however loaded the machine is): `svm-bench --harness R` for two round
# counts, the difference of the totals divided by the difference of the executions, so loading and
# generating the inputs cancel out. Prints one JSON line.
#   scripts/harness-cost.sh [--length L] [--from R] [--to R] [--allocs]
# Inputs: corpus/seeds, or (--length L) 16 random programs of exactly L operations that run clean
# on `merged` (svm-bench/HarnessRounds.swift). Default: instructions per execution and per operation
# (callgrind). --allocs: heap blocks and bytes allocated per execution (valgrind's dhat), and every
# allocation site whose count grows with the executions, as its innermost frames of our code.
# valgrind 3.19 cannot read Swift's DWARF 5: the binary is copied and stripped of debug info first.
source "$(dirname "$0")/lib.sh"
length="" from=20 to=60 allocs=0
while [ $# -gt 0 ]; do
    case "$1" in
        --length) length="${2:?--length needs a number}"; shift 2 ;;
        --from) from="${2:?--from needs a number}"; shift 2 ;;
        --to) to="${2:?--to needs a number}"; shift 2 ;;
        --allocs) allocs=1; shift ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
for n in $from $to $length; do [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -gt 0 ] || die "'$n' is not a positive number"; done
[ "$to" -gt "$from" ] || die "--to must be larger than --from"
command -v valgrind >/dev/null || { apt-get install -y -q valgrind >&2 || die "valgrind is needed"; }
cd "$ROOT"
swift build -c release --product svm-bench >&2 || die "building svm-bench failed"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$ROOT/.build/release/svm-bench" "$tmp/svm-bench" && strip --strip-debug "$tmp/svm-bench"
args=()
[ -n "$length" ] && args=(--length "$length")

# count ROUNDS: runs svm-bench under the tool; the harness line goes to $tmp/out.ROUNDS
count() {
    local r="$1" tool
    if [ "$allocs" = 1 ]; then
        tool=(--tool=dhat --dhat-out-file="$tmp/dhat.$r")
    else
        tool=(--tool=callgrind --callgrind-out-file="$tmp/cg.$r")
    fi
    valgrind "${tool[@]}" "$tmp/svm-bench" --harness "$r" ${args[@]+"${args[@]}"} >"$tmp/out.$r" 2>"$tmp/log.$r" \
        || { tail -n 20 "$tmp/log.$r" >&2; die "valgrind run of $r rounds failed"; }
}
count "$from"
count "$to"
# The allocation sites' frames, demangled (one symbol a line): in full, to tell our modules' frames
# from the runtime's, and simplified, to show them.
if [ "$allocs" = 1 ]; then
    python3 -c 'import json, sys
for f in sys.argv[1:]:
    for s in json.load(open(f))["ftbl"]: print(s)' "$tmp/dhat.$from" "$tmp/dhat.$to" >"$tmp/frames.raw"
    "$TOOLCHAIN_BIN/swift-demangle" <"$tmp/frames.raw" >"$tmp/frames.full"
    "$TOOLCHAIN_BIN/swift-demangle" --simplified <"$tmp/frames.raw" >"$tmp/frames.short"
fi
python3 - "$tmp" "$from" "$to" "$allocs" "${length:-}" <<'EOF'
import json, re, sys
tmp, f, t, allocs, length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5]
line = open(f"{tmp}/out.{t}").read()
m = re.search(r"rounds of (\d+) inputs \((\d+) operations per round.*?\), (\d+) stopped", line)
if not m:
    sys.exit(f"harness-cost.sh: svm-bench printed no harness line: {line.strip()!r}")
inputs, ops, stopped = int(m.group(1)), int(m.group(2)), int(m.group(3))
execs = (t - f) * inputs
out = {"inputs": f"{length}-operation programs" if length else "corpus/seeds", "programs": inputs,
       "operations_per_round": ops, "from_rounds": f, "to_rounds": t, "violations_per_round": stopped // t}
if not allocs:
    def total(r):
        m = re.search(r"Collected : (\d+)", open(f"{tmp}/log.{r}").read())
        if not m:
            sys.exit(f"harness-cost.sh: callgrind printed no total for {r} rounds")
        return int(m.group(1))
    d = total(t) - total(f)
    out.update(instructions_per_exec=round(d / execs), instructions_per_op=round(d / ((t - f) * ops), 1))
else:
    full = open(f"{tmp}/frames.full").read().splitlines()
    short = open(f"{tmp}/frames.short").read().splitlines()
    name = lambda line: re.sub(r"^0x[0-9A-Fa-f]+: ", "", line).split(" (in ")[0]
    k = 0
    def load(r):
        """{stack: (blocks, bytes)} of one dhat run; a stack is a tuple of (full, short) frame names."""
        global k
        d = json.load(open(f"{tmp}/dhat.{r}"))
        n = len(d["ftbl"])
        frames = [(name(a), name(b)) for a, b in zip(full[k:k + n], short[k:k + n])]
        k += n
        sites = {}
        for pp in d["pps"]:
            key = tuple(frames[i] for i in pp["fs"])
            b, nb = sites.get(key, (0, 0))
            sites[key] = (b + pp["tbk"], nb + pp["tb"])
        return sites
    a, b = load(f), load(t)
    blocks = sum(v[0] for v in b.values()) - sum(v[0] for v in a.values())
    nbytes = sum(v[1] for v in b.values()) - sum(v[1] for v in a.values())
    allocator = re.compile(r"^(malloc|calloc|realloc|posix_memalign|aligned_alloc|operator new|swift_slowAlloc|swift_allocObject)")
    ours = re.compile(r"\b(SVMFuzzKit|SVMModel|svm_bench)\.")
    merged = {}
    for key in set(a) | set(b):
        n = b.get(key, (0, 0))[0] - a.get(key, (0, 0))[0]
        nb = b.get(key, (0, 0))[1] - a.get(key, (0, 0))[1]
        if n <= 0:
            continue
        # What allocates (the innermost frame past the allocator), then the innermost frames of ours.
        what = next((s for full_, s in key if not allocator.search(full_)), key[0][1])
        mine = tuple(s for full_, s in key if ours.search(full_))[:3]
        c, cb = merged.get((what, mine), (0, 0))
        merged[(what, mine)] = (c + n, cb + nb)
    sites = [{"allocs_per_exec": round(n / execs, 3), "bytes_per_exec": round(nb / execs, 1),
              "allocates": what, "in": list(mine)} for (what, mine), (n, nb) in merged.items()]
    sites.sort(key=lambda s: (-s["allocs_per_exec"], s["in"]))
    out.update(allocs_per_exec=round(blocks / execs, 3), bytes_per_exec=round(nbytes / execs, 1), sites=sites[:20])
print(json.dumps(out))
EOF
