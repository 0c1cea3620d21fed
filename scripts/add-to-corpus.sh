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
# verdict <variant> <field>: from the last JSON line of `replay --json` (never its human output):
# field id (empty when clean) or text (the violation line, or "CLEAN (<n> steps)"). replay exits 1 on a
# violation, which pipefail would turn into the script's exit.
verdict() {
    { "$SVMFUZZ" replay "$tmp/min.svm" --variant "$1" --json || true; } | tail -n 1 | python3 -c '
import json, sys
d, field = json.loads(sys.stdin.read()), sys.argv[1]
v = d.get("violation")
print((v or {}).get("id", "") if field == "id" else (v["text"] if v else "CLEAN (%d steps)" % d["steps"]))' "$2"
}
id="$(verdict "$variant" id)"
[ -n "$id" ] || die "the minimized program no longer violates anything on $variant"
verdict_text="$(verdict "$variant" text)"
[ -n "$name" ] || name="$(tr ':' '-' <<<"$id")-$(sha1sum "$tmp/min.svm" | cut -c1-8)"
dir="$ROOT/corpus/regressions/$variant"
mkdir -p "$dir"
merged_verdict="$(verdict merged text)"
{
    echo "# Regression found by svmfuzz on variant $variant ($(date -u +%Y-%m-%d)), minimized from $(basename "$artifact")."
    echo "# invariant: $id"
    echo "# on $variant: $verdict_text"
    [ "$variant" = merged ] || echo "# on merged:  $merged_verdict"
    grep -v '^# minimized from' "$tmp/min.svm"
} >"$dir/$name.svm"
"$SVMFUZZ" encode "$dir/$name.svm" -o "$dir/$name.bin" 2>/dev/null
echo "added ${dir#"$ROOT"/}/$name.svm"
cat "$dir/$name.svm"
