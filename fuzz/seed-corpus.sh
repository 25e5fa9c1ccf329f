#!/bin/sh
# Writes the seed corpus of the sql_frontend target: every query and statement of the .slt
# corpus (tests/sql/*.slt), one file each, into fuzz/corpus/sql_frontend (created if missing).
# Run from anywhere; idempotent (files are named by a hash of their text).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/corpus/sql_frontend"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A record's SQL runs from the line after `query …`/`statement …` to `----` or a blank line.
awk -v dir="$tmp" '
  /^(query|statement)/ { inside = 1; n++; next }
  inside && (/^----$/ || /^[[:space:]]*$/) { inside = 0; next }
  inside { f = dir "/" n; if (seen[n]++) printf "\n" >> f; printf "%s", $0 >> f; close(f) }
' "$here"/../tests/sql/*.slt
for f in "$tmp"/*; do
  name=$(sha1sum "$f" | cut -c1-16)
  cp "$f" "$out/$name"
done
echo "$(ls "$out" | wc -l) files in $out"
