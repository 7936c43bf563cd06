#!/usr/bin/env bash
# Checks every DocC catalog's links: extracts each library's symbol graph from the debug build
# and runs `docc convert --analyze` on its catalog; prints each warning and exits 1 if any.
# Usage: swift build && scripts/doccheck.sh
set -euo pipefail
cd "$(dirname "$0")/.."
modules=.build/debug/Modules
[ -d "$modules" ] || { echo "no debug build: run swift build first" >&2; exit 2; }
triple=$(swift -print-target-info | sed -n 's/.*"triple": "\(.*\)".*/\1/p' | head -1)
includes=(-I "$modules" -I .build/debug)
for dir in Sources/*/include; do includes+=(-I "$dir"); done
while IFS= read -r map; do includes+=(-I "$(dirname "$map")"); done < <(find .build/checkouts -name module.modulemap -path '*include*' 2>/dev/null)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
problems=0
for catalog in Sources/*/*.docc; do
  module=$(basename "$(dirname "$catalog")")
  mkdir -p "$work/$module"
  swift-symbolgraph-extract -module-name "$module" "${includes[@]}" -target "$triple" \
    -minimum-access-level public -output-dir "$work/$module" 2> "$work/$module.err" \
    || { echo "$module: symbol graph failed: $(head -3 "$work/$module.err")"; problems=$((problems + 1)); continue; }
  warnings=$(docc convert "$catalog" --additional-symbol-graph-dir "$work/$module" \
    --output-path "$work/$module.doccarchive" --analyze 2>&1 | grep -E "warning|error" || true)
  count=0; [ -n "$warnings" ] && count=$(printf '%s\n' "$warnings" | wc -l)
  echo "$module: $count problems"
  [ -n "$warnings" ] && printf '%s\n' "$warnings"
  problems=$((problems + count))
done
[ "$problems" -eq 0 ]
