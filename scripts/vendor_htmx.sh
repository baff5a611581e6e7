#!/usr/bin/env bash
# Vendor htmx into the explorer's static files (optimizer/web/static/htmx.min.js), from the npm
# package htmx.org, so `relocate serve` needs no CDN:
#
#   scripts/vendor_htmx.sh [VERSION]     (default 2.0.11, the version shipped now)
#
# htmx is Zero-Clause BSD (its LICENSE is copied beside the file). Run it once per upgrade and
# commit both files; nothing is downloaded when the explorer runs.
set -euo pipefail
version="${1:-2.0.11}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
npm install --silent --no-audit --no-fund --prefix "$work" "htmx.org@$version"
cp "$work/node_modules/htmx.org/dist/htmx.min.js" "$root/optimizer/web/static/htmx.min.js"
cp "$work/node_modules/htmx.org/LICENSE" "$root/optimizer/web/static/htmx.LICENSE.txt"
echo "vendored htmx.org@$version into optimizer/web/static/"
