#!/usr/bin/env bash
# Minimizes a libFuzzer artifact: libFuzzer's -minimize_crash on the bytes, then svmfuzz's
# operation-level minimizer down to a program from which no operation can be removed.
#   scripts/minimize.sh <artifact> [--variant V] [-o out.svm]
# Prints the minimized .svm text.
source "$(dirname "$0")/lib.sh"
artifact="" variant=merged out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --variant) variant="${2:?--variant needs a name}"; shift 2 ;;
        -o) out="${2:?-o needs a file}"; shift 2 ;;
        -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
        -*) die "unknown option '$1'" ;;
        *) [ -z "$artifact" ] || die "one artifact at a time"; artifact="$1"; shift ;;
    esac
done
[ -n "$artifact" ] || die "usage: scripts/minimize.sh <artifact> [--variant V] [-o out.svm]"
[ -r "$artifact" ] || die "cannot read '$artifact'"
SVMFUZZ="$(svmfuzz_bin)"
check_variant "$variant"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
bytes="$artifact"
case "$artifact" in
    *.svm) ;;
    *)
        bin="$("$ROOT/scripts/build-fuzz.sh" FuzzSVM)"
        # libFuzzer shrinks the bytes while the target still crashes.
        SVMFUZZ_VARIANT="$variant" "$bin" -minimize_crash=1 -runs=20000 \
            -exact_artifact_path="$tmp/min.bin" "$artifact" >"$tmp/log" 2>&1 || true
        [ -s "$tmp/min.bin" ] && bytes="$tmp/min.bin"
        ;;
esac
# The header names the artifact, not the temporary file libFuzzer minimized into.
"$SVMFUZZ" minimize "$bytes" --variant "$variant" -o "$tmp/min.svm" >/dev/null
sed "1s|$tmp/min.bin|$artifact|" "$tmp/min.svm" >"$tmp/named.svm"
if [ -n "$out" ]; then cp "$tmp/named.svm" "$out"; fi
cat "$tmp/named.svm"
