#!/bin/sh
# top-edges: keep the $GCRL_PARAM_N rows of edges.csv with the largest |$GCRL_PARAM_BY|.
# Protocol (plugins/README.md): inputs in $GCRL_INPUTS, outputs to $GCRL_OUTPUTS, params as
# GCRL_PARAM_<NAME>. CSV with a header; gene names hold no commas.
set -eu
in="$GCRL_INPUTS/edges.csv"
out="$GCRL_OUTPUTS/edges.csv"
header=$(head -n 1 "$in")
col=$(printf '%s\n' "$header" | awk -F, -v want="$GCRL_PARAM_BY" \
  '{ for (i = 1; i <= NF; i++) if ($i == want) { print i; exit } }')
if [ -z "$col" ]; then
  echo "top-edges: no column \`$GCRL_PARAM_BY\` in edges (columns: $header)" >&2
  exit 2
fi
printf '%s\n' "$header" > "$out"
# Rank by |value|, ties by the original row order, so the result is deterministic.
tail -n +2 "$in" \
  | awk -F, -v c="$col" '{ v = $c + 0; if (v < 0) v = -v; printf "%.17g\t%d\t%s\n", v, NR, $0 }' \
  | LC_ALL=C sort -t "$(printf '\t')" -k1,1gr -k2,2n \
  | head -n "$GCRL_PARAM_N" \
  | cut -f 3- >> "$out"
