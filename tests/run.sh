#!/usr/bin/env bash
# Runs every unit test binary and integration script; prints one closing line
# "N passed, N failed" counting test binaries/scripts (cmocka prints per-test detail).
set -u
BUILD=${BUILD:-build}
pass=0; fail=0; failed=()
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  if "$t"; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$t"); fi
done
if [ "${GPF_SKIP_INTEGRATION:-0}" != 1 ]; then
  for t in tests/integration/test_*.sh; do
    [ -f "$t" ] || continue
    echo "[integration] $t"
    if GPF_BIN="$BUILD/gpufleet" bash "$t"; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$t"); fi
  done
fi
for f in "${failed[@]}"; do echo "FAILED: $f"; done
echo "suites: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
