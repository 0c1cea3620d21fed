#!/usr/bin/env bash
# Runs the release svmfuzz command, building it first if needed: scripts/svmfuzz.sh replay x.svm
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
(cd "$ROOT" && swift build -c release --product svmfuzz >/dev/null 2>&1) || (cd "$ROOT" && swift build -c release --product svmfuzz >&2)
exec "$ROOT/.build/release/svmfuzz" "$@"
