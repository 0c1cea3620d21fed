#!/usr/bin/env bash
# Runs scripts/oss-fuzz/build.sh the way OSS-Fuzz's `compile` does, without Docker, then checks what
# it put in $OUT the way the engines' build checks and fuzzing use it.
#   scripts/oss-fuzz-check.sh [--sanitizer address|coverage] [--runs N] [--bug-seconds S] [--clean] [--dir DIR]
# Folders under DIR (default .build-ossfuzz): src/svmfuzz ($SRC's checkout: a copy of the working
# tree's files that git tracks or would track), out ($OUT, emptied first), work ($WORK, kept between
# runs so that a rebuild is incremental; --clean empties it). $SRC/build.sh is scripts/oss-fuzz/build.sh,
# a stand-in `precompile_swift` copies the toolchain's llvm-symbolizer into $OUT, and the compiler
# flags are OSS-Fuzz's for the sanitizer. Then, for every FuzzSVM_* target in $OUT:
#   - its companions: .known, .dict, .options and _seed_corpus.zip;
#   - libFuzzer's coverage counters, and with ASan over 1000 calls into it (the engines' thresholds);
#   - start-up: `-seed=1337 -runs=4` prints "Done 4 runs" (the engines' bad-build check);
#   - the unzipped seed corpus runs through without a crash (`-runs=0`);
#   - a campaign over that corpus with the .dict and .options (seeded; -runs=N, default 20000, or
#     for the series' flawed variants until their violation, at most S seconds, default 240):
#     prefix and msr-hook must report l1-runs-l2-state (msr-hook's through KVM's emulator door: its
#     seed corpus lacks seed 13, which violates it at once, but cross-overs with seed 14's forced
#     emulation find it in 1 k to 65 k execs, 1 to ~45 s: seeds 1-4 and a fresh-clone CI run, 2026-12-03),
#     v1-ignore-in-guest inconsistent-state or unrestorable-state, v2-set-efer
#     spurious-triple-fault; merged nothing (LeakSanitizer included). The coverage build only runs
#     the seed corpus and checks a profile.
# Ends with `OSS-FUZZ OK <n> targets` or exits non-zero naming the failed check.
source "$(dirname "$0")/lib.sh"
# The engines set neither: the targets must manage without.
unset SWIFT_BACKTRACE UBSAN_OPTIONS
sanitizer=address runs=20000 bug_seconds=240 clean=0 dir="$ROOT/.build-ossfuzz"
while [ $# -gt 0 ]; do
    case "$1" in
        --sanitizer) sanitizer="${2:?--sanitizer needs address or coverage}"; shift 2 ;;
        --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
        --bug-seconds) bug_seconds="${2:?--bug-seconds needs a number}"; shift 2 ;;
        --clean) clean=1; shift ;;
        --dir) dir="${2:?--dir needs a folder}"; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
for n in $runs $bug_seconds; do [[ "$n" =~ ^[0-9]+$ ]] || die "'$n' is not a whole number"; done
[[ "$sanitizer" =~ ^(address|coverage)$ ]] || die "--sanitizer must be address or coverage (got '$sanitizer')"
fail() { echo "oss-fuzz-check: FAIL $*" >&2; exit 1; }

# The folders and variables of OSS-Fuzz's build container.
mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"
export SRC="$dir/src" OUT="$dir/out" WORK="$dir/work"
[ "$clean" = 1 ] && rm -rf "$WORK"
rm -rf "$SRC" "$OUT"; mkdir -p "$SRC/svmfuzz" "$OUT" "$WORK" "$dir/bin"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - 2>/dev/null) | tar -xf - -C "$SRC/svmfuzz"
cp "$ROOT/scripts/oss-fuzz/build.sh" "$SRC/build.sh"
cat > "$dir/bin/precompile_swift" <<EOF
# Stand-in for base-builder-swift's precompile_swift: the symbolizer only (build.sh makes its flags).
cp "$TOOLCHAIN_BIN/llvm-symbolizer" "\$OUT/llvm-symbolizer"
EOF
export PATH="$dir/bin:$PATH"
export FUZZING_ENGINE=libfuzzer FUZZING_LANGUAGE=swift ARCHITECTURE=x86_64 SANITIZER="$sanitizer"
export LIB_FUZZING_ENGINE=-fsanitize=fuzzer
base="-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
case "$sanitizer" in
    address) export CFLAGS="$base -fsanitize=address -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link" ;;
    coverage) export CFLAGS="$base -fprofile-instr-generate -fcoverage-mapping" ;;
esac
export CXXFLAGS="$CFLAGS -stdlib=libc++"

echo "== build.sh (SANITIZER=$sanitizer, \$WORK $WORK, log $dir/build.log)" >&2
start=$SECONDS
(cd "$SRC/svmfuzz" && bash -eu "$SRC/build.sh") >"$dir/build.log" 2>&1 || { tail -n 40 "$dir/build.log" >&2; fail "build.sh exited with an error"; }
grep "^build.sh:" "$dir/build.log" >&2 || true
echo "build.sh took $((SECONDS - start)) s" >&2

# What OSS-Fuzz's run_fuzzer passes.
export ASAN_OPTIONS="detect_leaks=1:handle_abort=1:handle_segv=1:handle_sigill=1:symbolize=1:print_scariness=1:dedup_token_length=3"
run_args=(-rss_limit_mb=2560 -timeout=25)
check="$dir/check"
targets=0
for t in "$OUT"/FuzzSVM_*; do
    name="$(basename "$t")"
    [[ "$name" =~ ^FuzzSVM_[A-Za-z0-9_-]+$ ]] && [ -x "$t" ] || continue
    targets=$((targets + 1))
    v="${name#FuzzSVM_}"
    for f in "$t.known" "$t.dict" "$t.options" "${t}_seed_corpus.zip"; do [ -s "$f" ] || fail "$name: no $(basename "$f")"; done
    # The targets are copies of one binary: inspect it once (disassembling it takes a while).
    if [ -z "${inspected:-}" ] || ! cmp -s "$inspected" "$t"; then
        syms="$("$TOOLCHAIN_BIN/llvm-nm" "$t")"
        grep -q "LLVMFuzzerTestOneInput" <<<"$syms" || fail "$name has no LLVMFuzzerTestOneInput"
        grep -q "__sanitizer_cov_8bit_counters_init" <<<"$syms" || fail "$name has no coverage counters"
        grep -q -a -F "$SRC/svmfuzz/Sources/" "$t" || fail "$name was not built from \$SRC/svmfuzz (no such source path in it)"
        if [ "$sanitizer" = address ]; then
            asan="$("$TOOLCHAIN_BIN/llvm-objdump" -d "$t" | grep -cE "call.*<__asan_" || true)"
            [ "$asan" -gt 1000 ] || fail "$name makes $asan calls into ASan (not built with it?)"
            echo "ok   $name: coverage counters, $asan calls into ASan" >&2
        fi
        inspected="$t"
    fi
    # The .options file as libFuzzer flags.
    opts=()
    while IFS= read -r o; do opts+=("$o"); done < <(awk -F' *= *' '/^\[/ { s = $0; next } s == "[libfuzzer]" && NF == 2 { print "-" $1 "=" $2 }' "$t.options")
    rm -rf "$check"; mkdir -p "$check/seeds" "$check/corpus" "$check/artifacts"
    (cd "$check/seeds" && unzip -q "${t}_seed_corpus.zip")
    export LLVM_PROFILE_FILE="$check/%p.profraw"
    out="$("$t" -seed=1337 -runs=4 2>&1 || true)"
    grep -q "Done 4 runs" <<<"$out" || { echo "$out" | tail -n 20 >&2; fail "$name does not start"; }
    "$t" "${run_args[@]}" "${opts[@]}" -runs=0 "$check/seeds" >"$check/seeds.log" 2>&1 \
        || { tail -n 20 "$check/seeds.log" >&2; fail "$name crashes on its seed corpus"; }
    if [ "$sanitizer" = coverage ]; then
        ls "$check"/*.profraw >/dev/null 2>&1 || fail "$name wrote no coverage profile"
        echo "ok   $name: starts, runs its $(ls "$check/seeds" | wc -l) seeds, writes a profile" >&2
        continue
    fi
    case "$v" in
        prefix|msr-hook) want="l1-runs-l2-state" ;;
        v1-ignore-in-guest) want="inconsistent-state|unrestorable-state" ;;
        v2-set-efer) want="spurious-triple-fault" ;;
        merged) want="" ;;
        *) want="*" ;;
    esac
    budget=(-runs="$runs")
    [ -n "$want" ] && [ "$want" != "*" ] && budget=(-max_total_time="$bug_seconds")
    set +e
    "$t" "${run_args[@]}" "${opts[@]}" -dict="$t.dict" -seed=1 -print_final_stats=1 "${budget[@]}" -artifact_prefix="$check/artifacts/" \
        "$check/corpus" "$check/seeds" >"$check/fuzz.log" 2>&1
    rc=$?
    set -e
    found="$(grep -m 1 -oE "^ASSERTION FAILED: svmfuzz [^ ]+" "$check/fuzz.log" | cut -d' ' -f4 || true)"
    execs="$(grep -oE "stat::number_of_executed_units: [0-9]+" "$check/fuzz.log" | grep -oE "[0-9]+$" || echo "?")"
    if [ "$want" = "*" ]; then
        echo "ok   $name: ${found:-no violation} (rc $rc, $execs execs; no expectation for this variant)" >&2
    elif [ -z "$want" ]; then
        [ "$rc" = 0 ] || { tail -n 30 "$check/fuzz.log" >&2; fail "$name: wanted a clean campaign, got rc $rc${found:+ ($found)}"; }
        echo "ok   $name: clean, $execs execs" >&2
    else
        [[ "$found" =~ ^($want)(:|$) ]] || { tail -n 30 "$check/fuzz.log" >&2; fail "$name: wanted $want, got ${found:-nothing} (rc $rc)"; }
        ls "$check/artifacts"/crash-* >/dev/null 2>&1 || fail "$name: $found reported but no crash artifact written"
        echo "ok   $name: found $found after $execs execs" >&2
    fi
done
[ "$targets" -gt 0 ] || fail "no FuzzSVM_* target in $OUT"
echo "OSS-FUZZ OK $targets targets"
