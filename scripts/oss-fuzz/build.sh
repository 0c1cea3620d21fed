#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build of svmfuzz: run by the engines' `compile` in
# gcr.io/oss-fuzz-base/base-builder-swift with the checkout in $SRC/svmfuzz, and here by
# scripts/oss-fuzz-check.sh with the same variables.
#
# Puts in $OUT, for each variant V of $SVMFUZZ_VARIANTS (default: the EFER.SVME series):
#   FuzzSVM_V                  the libFuzzer target; it takes its variant from its own name, since
#                              the engines pass no environment (`.` in a name is spelled `_`)
#   FuzzSVM_V.known            corpus/known-issues.txt, which the target reads beside itself, so the
#                              known findings are skipped as scripts/fuzz.sh skips them
#   FuzzSVM_V_seed_corpus.zip  corpus/seeds encoded by `svmfuzz encode`, less the seeds that violate V
#                              (the engines refuse a build whose seed corpus crashes its target)
#   FuzzSVM_V.dict             corpus/svm.dict
#   FuzzSVM_V.options          libFuzzer options: max_len = 256, as scripts/fuzz.sh
# $SVMFUZZ_VARIANTS is a space-separated list of `svmfuzz variants --names`, or `all`.
#
# Flags. $SANITIZER (address, or coverage for coverage builds) and $CFLAGS/$CXXFLAGS come from the
# engine. precompile_swift, when present, copies the image's llvm-symbolizer into $OUT; the flags it
# exports are not used as they are: SWIFTFLAGS adds -parse-as-library, which a tools-version 5.9
# package cannot take with -sanitize=fuzzer (undefined FuzzSVM_main), and SWIFT6_2FLAGS asks
# SwiftPM for `--sanitize=fuzzer --sanitize=address`, two flags it hands swiftc in a random order,
# of which swiftc keeps only the last (so a build gets coverage or ASan, not both:
# shared/reference/swift-libfuzzer.md §1). Below: the same flags, the sanitizers as one
# `-sanitize=fuzzer,$SANITIZER`. Swift links libFuzzer through -sanitize=fuzzer, so
# $LIB_FUZZING_ENGINE must name libFuzzer; it is not passed to a linker.
#
# Scratch builds go to $WORK (the target's, and an unsanitized debug svmfuzz for `encode`).

# The engines run this from the Dockerfile's WORKDIR, the checkout.
[ -f Package.swift ] || cd "$SRC/svmfuzz"
: "${SANITIZER:=address}" "${CFLAGS:=}" "${CXXFLAGS:=}" "${SVMFUZZ_VARIANTS:=merged msr-hook prefix v1-ignore-in-guest v2-set-efer}"
case "${FUZZING_ENGINE:-libfuzzer}:${LIB_FUZZING_ENGINE:--fsanitize=fuzzer}" in
    libfuzzer:*-fsanitize=fuzzer*) ;;
    *) echo "build.sh: Swift targets build for libFuzzer only (FUZZING_ENGINE=${FUZZING_ENGINE:-}, LIB_FUZZING_ENGINE=${LIB_FUZZING_ENGINE:-})" >&2; exit 1 ;;
esac
if command -v precompile_swift >/dev/null; then
    . precompile_swift
fi

flags=(-c release --product FuzzSVM --scratch-path "$WORK/fuzz-build" --static-swift-stdlib -Xswiftc -static-stdlib
       --sanitize=fuzzer)
case "$SANITIZER" in
    coverage) flags+=(-Xswiftc -profile-generate -Xswiftc -profile-coverage-mapping) ;;
    none|"") ;;
    *) flags+=(-Xswiftc "-sanitize=fuzzer,$SANITIZER")
       for f in $CFLAGS; do flags+=("-Xcc=$f"); done
       for f in $CXXFLAGS; do flags+=("-Xcxx=$f"); done ;;
esac
swift build "${flags[@]}"
fuzzer="$WORK/fuzz-build/release/FuzzSVM"

# The seeds are .svm text; the targets read the byte encoding. svmfuzz needs no sanitizer.
swift build -c debug --product svmfuzz --scratch-path "$WORK/tool-build"
svmfuzz="$WORK/tool-build/debug/svmfuzz"
[ "$SVMFUZZ_VARIANTS" = all ] && SVMFUZZ_VARIANTS="$("$svmfuzz" variants --names | tr '\n' ' ')"
seeds="$WORK/seeds"
rm -rf "$seeds"; mkdir -p "$seeds"
for f in corpus/seeds/*.svm; do
    "$svmfuzz" encode "$f" -o "$seeds/$(basename "${f%.svm}")"
done

for v in $SVMFUZZ_VARIANTS; do
    "$svmfuzz" variants --names | grep -qx -- "$v" || { echo "build.sh: unknown variant '$v' in SVMFUZZ_VARIANTS" >&2; exit 1; }
    t="FuzzSVM_${v//./_}"
    cp "$fuzzer" "$OUT/$t"
    cp corpus/known-issues.txt "$OUT/$t.known"
    cp corpus/svm.dict "$OUT/$t.dict"
    printf '[libfuzzer]\nmax_len = 256\n' > "$OUT/$t.options"
    # Keep the seeds the target runs through (a known issue counts as passing, as in fuzzing).
    keep="$WORK/keep-$t"
    rm -rf "$keep"; mkdir -p "$keep"
    for s in "$seeds"/*; do
        if LLVM_PROFILE_FILE=/dev/null "$OUT/$t" "$s" >/dev/null 2>&1; then cp "$s" "$keep/"; fi
    done
    rm -f "$OUT/${t}_seed_corpus.zip"
    if [ -n "$(ls "$keep")" ]; then (cd "$keep" && zip -q -j "$OUT/${t}_seed_corpus.zip" ./*); fi
    echo "build.sh: $t with $(ls "$keep" | wc -l) of $(ls "$seeds" | wc -l) seeds"
done
