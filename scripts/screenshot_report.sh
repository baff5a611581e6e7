#!/usr/bin/env bash
# Render a report.html in a real headless browser (Debian's chromium) and save a screenshot.
#
#   scripts/screenshot_report.sh [REPORT.html] [OUT.png] [WIDTHxHEIGHT]
#
# Without REPORT.html it first writes the README's comparison (german-1994, eu-2015, pact-2024 on
# 2023 data) to outputs/compare-keys/ and shoots that. Defaults: docs/report.png, 1280x2400.
# Needs chromium (`apt-get install -y chromium`); exits 3 when it is missing, 1 when the browser
# fails or writes no image. The browser runs with no network, no profile and no sandbox (for CI
# containers); the report is self-contained, so it needs nothing from outside.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
report="${1:-}"
shot="${2:-$root/docs/report.png}"
size="${3:-1280x2400}"

browser="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
if [[ -z "$browser" ]]; then
    echo "screenshot_report: chromium not found (apt-get install -y chromium)" >&2
    exit 3
fi

if [[ -z "$report" ]]; then
    relocate="$root/.venv/bin/relocate"
    [[ -x "$relocate" ]] || relocate="relocate"
    (cd "$root" && "$relocate" compare inputs/scenarios/compare-keys.toml --out outputs/compare-keys --force --report html >/dev/null)
    report="$root/outputs/compare-keys/report.html"
fi
[[ -f "$report" ]] || { echo "screenshot_report: no such file: $report" >&2; exit 2; }
report="$(cd "$(dirname "$report")" && pwd)/$(basename "$report")"
mkdir -p "$(dirname "$shot")"
shot="$(cd "$(dirname "$shot")" && pwd)/$(basename "$shot")"

profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
rm -f "$shot"
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" \
    --screenshot="$shot" --window-size="${size/x/,}" "file://$report" >/dev/null 2>&1 || true
if [[ ! -s "$shot" ]]; then
    echo "screenshot_report: chromium wrote no screenshot of $report" >&2
    exit 1
fi
echo "$shot"
