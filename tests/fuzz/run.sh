#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each on a scratch copy of its seed corpus.
#   run.sh BUILD_FUZZ_DIR SECONDS
set -u
dir=$1 secs=$2
pass=0 fail=0
for bin in "$dir"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); seeds=tests/fuzz/corpus/${name#fuzz_}
  work=$(mktemp -d /tmp/gpufleet-fuzz.XXXXXX)
  [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
  echo "[fuzz] $name for ${secs}s"
  if "$bin" -max_total_time="$secs" -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/" "$work" >"$work.log" 2>&1; then
    pass=$((pass+1)); grep -E '^(stat::number_of_executed_units|Done)' "$work.log" | tail -2
  else
    fail=$((fail+1)); tail -40 "$work.log"; echo "FAILED: $name (crash input kept in $work)"; continue
  fi
  rm -rf "$work" "$work.log"
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
