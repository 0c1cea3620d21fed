#!/usr/bin/env bash
# Turns a finding into a regression test: minimizes it, then stores
# corpus/regressions/<variant>/<name>.svm (with a header saying what it shows) and <name>.bin.
#   scripts/add-to-corpus.sh <artifact> --variant V [--name N]
# `swift test` replays it: it must violate its invariant on V and be clean on merged.
source "$(dirname "$0")/lib.sh"
artifact="" variant="" name=""
while [ $# -gt 0 ]; do
    case "$1" in
        --variant) variant="${2:?--variant needs a name}"; shift 2 ;;
        --name) name="${2:?--name needs a name}"; shift 2 ;;
        -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
        -*) die "unknown option '$1'" ;;
        *) artifact="$1"; shift ;;
    esac
done
[ -n "$artifact" ] && [ -n "$variant" ] || die "usage: scripts/add-to-corpus.sh <artifact> --variant V [--name N]"
[ -r "$artifact" ] || die "cannot read '$artifact'"
SVMFUZZ="$(svmfuzz_bin)"
check_variant "$variant"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$ROOT/scripts/minimize.sh" "$artifact" --variant "$variant" -o "$tmp/min.svm" >/dev/null
verdict="$("$SVMFUZZ" replay "$tmp/min.svm" --variant "$variant" | grep '^VIOLATION' || true)"
[ -n "$verdict" ] || die "the minimized program no longer violates anything on $variant"
id="$(cut -d' ' -f2 <<<"$verdict")"
[ -n "$name" ] || name="$(tr ':' '-' <<<"$id")-$(sha1sum "$tmp/min.svm" | cut -c1-8)"
dir="$ROOT/corpus/regressions/$variant"
mkdir -p "$dir"
merged_verdict="$("$SVMFUZZ" replay "$tmp/min.svm" --variant merged | tail -n 1 || true)"
{
    echo "# Regression found by svmfuzz on variant $variant ($(date -u +%Y-%m-%d)), minimized from $(basename "$artifact")."
    echo "# invariant: $id"
    echo "# on $variant: $verdict"
    [ "$variant" = merged ] || echo "# on merged:  $merged_verdict"
    grep -v '^# minimized from' "$tmp/min.svm"
} >"$dir/$name.svm"
"$SVMFUZZ" encode "$dir/$name.svm" -o "$dir/$name.bin" 2>/dev/null
echo "added ${dir#"$ROOT"/}/$name.svm"
cat "$dir/$name.svm"
