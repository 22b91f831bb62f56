#!/usr/bin/env bash
# Runs every unit test binary and integration script (each a suite) and ends with one line:
#   suites: N passed, N failed, N skipped; cases: N skipped, N unexpected
# A suite fails when it exits non-zero; it is skipped when it ran nothing (every case
# skipped, or GPF_SKIP_INTEGRATION=1 for the integration scripts); else it passed.
# Skipped cases are named SUITE:CASE: cmocka's "[  SKIPPED ] CASE" lines, an integration
# script's "  skip - CASE: why" lines (lib.sh's skip), and SCRIPT.sh:all for a script not
# run. tests/expected-skips (GPF_EXPECTED_SKIPS: another file) lists those the CI machine
# is known to have; with CI=true a skip it does not list fails the run (and is named).
set -u
BUILD=${BUILD:-build}
EXPECTED=${GPF_EXPECTED_SKIPS:-$(dirname "$0")/expected-skips}
LOGS=$(mktemp -d /tmp/gpufleet-run.XXXXXX)
trap 'rm -rf "$LOGS"' EXIT
pass=0; fail=0; skipped=0; failed=(); skips=()

# skipped_cases LOG: the names of the cases a cmocka binary skipped, one a line (not the
# list cmocka repeats after "N test(s), listed below:").
skipped_cases() {
  awk '/^\[  SKIPPED \] [0-9]+ test\(s\), listed below:$/ { list = 1; next }
       list && /^\[  SKIPPED \] / { next }
       { list = 0 }
       /^\[  SKIPPED \] / { sub(/^\[  SKIPPED \] /, ""); print }' "$1"
}

# tally NAME STATUS RAN SKIPPED: counts one suite.
tally() {
  if [ "$2" -ne 0 ]; then fail=$((fail + 1)); failed+=("$1")
  elif [ "$3" -gt 0 ] && [ "$4" -ge "$3" ]; then skipped=$((skipped + 1))
  else pass=$((pass + 1)); fi
}

# expected NAME: 0 when tests/expected-skips lists the skip NAME (SUITE:CASE, CASE a pattern).
expected() {
  local pat _
  [ -f "$EXPECTED" ] || return 1
  while read -r pat _; do
    case "$pat" in ''|'#'*) continue ;; esac
    # shellcheck disable=SC2053
    [[ "$1" == $pat ]] && return 0
  done <"$EXPECTED"
  return 1
}

for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t"); log="$LOGS/$name.log"
  "$t" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
  mapfile -t s < <(skipped_cases "$log")
  for c in "${s[@]}"; do skips+=("$name:$c"); done
  tally "$name" "$rc" "$(grep -c '^\[ RUN      \] ' "$log")" "${#s[@]}"
done
for t in tests/integration/test_*.sh; do
  [ -f "$t" ] || continue
  name=$(basename "$t"); log="$LOGS/$name.log"
  if [ "${GPF_SKIP_INTEGRATION:-0}" = 1 ]; then
    echo "[integration] $t: skipped (GPF_SKIP_INTEGRATION=1)"
    skips+=("$name:all"); skipped=$((skipped + 1))
    continue
  fi
  echo "[integration] $t"
  GPF_BIN="$BUILD/gpufleet" bash "$t" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
  mapfile -t s < <(sed -n 's/^  skip - \([^:]*\):.*/\1/p' "$log")
  for c in "${s[@]}"; do skips+=("$name:$c"); done
  # passed + failed + skipped from the script's closing line
  ran=$(sed -n "s/^$name: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p" "$log" | tail -1)
  read -r np nf ns <<<"${ran:-0 0 0}"
  tally "$name" "$rc" $((np + nf + ns)) "$ns"
done

unexpected=0
for k in "${skips[@]}"; do
  if expected "$k"; then echo "skipped: $k (expected: $EXPECTED)"
  else unexpected=$((unexpected + 1)); echo "skipped: $k (NOT in $EXPECTED)"; fi
done
for f in "${failed[@]}"; do echo "FAILED: $f"; done
verdict=0
[ "$fail" -eq 0 ] || verdict=1
if [ "${CI:-}" = true ] && [ "$unexpected" -gt 0 ]; then
  echo "FAILED: $unexpected unexpected skip(s) under CI=true: the CI machine must run them, or $EXPECTED must say why it cannot"
  verdict=1
fi
echo "suites: $pass passed, $fail failed, $skipped skipped; cases: ${#skips[@]} skipped, $unexpected unexpected"
exit "$verdict"
