#!/usr/bin/env bash
# Screenshot a page of the built site (make docs) opened from disk in headless Debian chromium, with no
# network at all (a fresh network namespace, when unshare is allowed), and check that MathJax typeset it.
# Usage: tools/docs_screenshot.sh [PAGE] [OUT.png] [HEIGHT]
#   defaults: notebooks/04_reward_overoptimization.html  test-artifacts/docs-04-offline.png  4200
set -euo pipefail
cd "$(dirname "$0")/.."
PAGE="site/${1:-notebooks/04_reward_overoptimization.html}"
OUT="${2:-test-artifacts/docs-04-offline.png}"
HEIGHT="${3:-4200}"
[ -f "$PAGE" ] || { echo "docs_screenshot: $PAGE is missing: run make docs first" >&2; exit 2; }
mkdir -p "$(dirname "$OUT")"
PROFILE="$(mktemp -d)"
trap 'rm -rf "$PROFILE"' EXIT
NONET=""
if unshare -n true 2>/dev/null; then NONET="unshare -n"; fi   # no interface but a downed loopback
FLAGS=(--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update
       --disable-sync --no-first-run --user-data-dir="$PROFILE" --hide-scrollbars
       --virtual-time-budget=15000 --window-size=1280,"$HEIGHT")
URL="file://$(realpath "$PAGE")"
$NONET chromium "${FLAGS[@]}" --screenshot="$OUT" "$URL" 2>/dev/null
DOM="$($NONET chromium "${FLAGS[@]}" --dump-dom "$URL" 2>/dev/null)"
MATH=$(grep -o "<mjx-container" <<<"$DOM" | wc -l)
IMGS=$(grep -o '<img[^>]*src="data:image/png' <<<"$DOM" | wc -l)
echo "docs_screenshot: $OUT (${NONET:-network not isolated}): $MATH typeset formulas, $IMGS PNG figures in $PAGE"
[ "$MATH" -gt 0 ] || { echo "docs_screenshot: no maths was typeset" >&2; exit 1; }
