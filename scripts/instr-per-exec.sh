#!/usr/bin/env bash
# Instructions per steady-state execution of a libFuzzer target, counted with callgrind (the same
# figure however loaded the machine is). Runs the target on corpus/seeds with seed 1, known issues
# suppressed as scripts/fuzz.sh does, for two run counts, and divides the difference of the totals
# by the difference of the runs. Prints one JSON line.
#   scripts/instr-per-exec.sh [--target FuzzSVM|FuzzEmpty] [--variant V] [--from N] [--to N]
#                             [--annotate FILE]      (FILE gets callgrind_annotate --inclusive=yes of the longer run)
# valgrind 3.19 cannot read Swift's DWARF 5: the binary is copied and stripped of debug info first,
# and libFuzzer's -print_funcs=0 keeps it from symbolizing. -reload=0: libFuzzer rereads its corpus
# folder on a wall-clock period, which under callgrind's 50x slowdown would count as ~6% of every execution.
source "$(dirname "$0")/lib.sh"
target=FuzzSVM variant=merged from=10000 to=30000 annotate=""
while [ $# -gt 0 ]; do
    case "$1" in
        --target) target="${2:?}"; shift 2 ;;
        --variant) variant="${2:?}"; shift 2 ;;
        --from) from="${2:?}"; shift 2 ;;
        --to) to="${2:?}"; shift 2 ;;
        --annotate) annotate="${2:?}"; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
for n in $from $to; do [[ "$n" =~ ^[0-9]+$ ]] || die "'$n' is not a whole number"; done
[ "$to" -gt "$from" ] || die "--to must be larger than --from"
command -v valgrind >/dev/null || { apt-get install -y -q valgrind >&2 || die "valgrind is needed"; }
SVMFUZZ="$(svmfuzz_bin)"
check_variant "$variant"
bin="$("$ROOT/scripts/build-fuzz.sh" "$target")"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$bin" "$tmp/target" && strip --strip-debug "$tmp/target"
mkdir -p "$tmp/seeds"
for f in "$ROOT"/corpus/seeds/*.svm; do
    "$SVMFUZZ" encode "$f" -o "$tmp/seeds/$(basename "${f%.svm}").bin" 2>/dev/null || die "seed $f does not encode"
done

# count RUNS -> total instructions of a run over a fresh copy of the seeds
count() {
    local runs="$1" dir="$tmp/c$1"
    rm -rf "$dir"; mkdir -p "$dir"; cp "$tmp/seeds"/* "$dir/"
    SVMFUZZ_KNOWN="$ROOT/corpus/known-issues.txt" SVMFUZZ_VARIANT="$variant" \
        valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$runs" "$tmp/target" -print_funcs=0 \
        -seed=1 -runs="$runs" -reload=0 -max_len=256 -dict="$ROOT/corpus/svm.dict" "$dir" >"$tmp/log.$runs" 2>&1 \
        || { tail -n 20 "$tmp/log.$runs" >&2; die "callgrind run of $runs execs failed"; }
    grep -oE "Collected : [0-9]+" "$tmp/log.$runs" | grep -oE "[0-9]+$"
}
a="$(count "$from")"
b="$(count "$to")"
[ -n "$annotate" ] && callgrind_annotate --inclusive=yes "$tmp/cg.$to" >"$annotate" 2>/dev/null
python3 - "$target" "$variant" "$from" "$to" "$a" "$b" <<'EOF'
import json, sys
t, v, f, to, a, b = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
print(json.dumps({"target": t, "variant": v, "from": f, "to": to, "instructions_from": a,
                  "instructions_to": b, "instructions_per_exec": round((b - a) / (to - f))}))
EOF
