#!/usr/bin/env bash
# The crash test (issue 16, item 11). Concurrent clients launch pods of every slice kind the
# demo fleet offers (whole, MIG, MIG-backed and time-sliced vGPU, share), stop them, and
# read pods, usage, hosts and GPUs, while the three demo hosts' agents (fake runtime)
# report; the control plane is SIGKILLed at a random moment of each cycle (in some cycles
# right into a burst of launches in flight) and restarted on the same state directory.
# After each restart tests/crash/crash_check verifies the database (read-only, one
# snapshot) and the API against what the clients were acknowledged (its header lists the
# checks), and the API's GPU ledger is compared with the one the database implies.
# First a self-test corrupts copies of a database and shows that the checker reports each.
#
#   GPF_CRASH_CYCLES  kill cycles (default 50: CI mode, ~2-3 minutes on 2 cores); more for
#                     a long local run, e.g. GPF_CRASH_CYCLES=300
#   GPF_CRASH_CLIENTS concurrent load clients (default 4)
#   GPF_CRASH_SEED    the random seed (printed; set it to replay a run's timing choices)
#   GPF_CRASH_CHECK   the checker (default: tests/crash/crash_check beside $GPF_BIN, built
#                     when missing)
source "$(dirname "$0")/lib.sh"
CYCLES=${GPF_CRASH_CYCLES:-50}
CLIENTS=${GPF_CRASH_CLIENTS:-4}
SEED=${GPF_CRASH_SEED:-$((($$ + $(date +%s)) % 32768))}
RANDOM=$SEED
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BDIR=$(dirname "$GPF_BIN")
CHECK=${GPF_CRASH_CHECK:-$BDIR/tests/crash/crash_check}
CATALOG="$ROOT/data/catalog"
echo "[crash-load] $CYCLES cycles, $CLIENTS clients, seed $SEED"
if [ ! -x "$CHECK" ]; then
  make -s -C "$ROOT" BUILD="$BDIR" "$CHECK" >/dev/null || { bad "build the checker $CHECK"; finish; exit 1; }
fi
T0=$(date +%s)

start_serve "$T/cp" || exit 1
export SERVE_LISTEN="127.0.0.1:${URL##*:}" # restarts come back on the same port
ADMIN=$(admin_token "$T/cp")
DB="$T/cp/gpufleet.db"
AGENTS=()
for h in gpu-h100-a gpu-a100-b gpu-l40s-c; do start_agent "$h" fake || exit 1; AGENTS+=("$AGENT_PID"); done
"$GPF_BIN" login --server "$URL" --token "$ADMIN" >/dev/null 2>&1

# sku NAME SLICE MODEL CPUS MEMORY_MIB: creates a SKU through the API.
sku() {
  local r
  r=$(api POST /v1/skus "{\"name\":\"$1\",\"slice\":$2,\"gpu_models\":[\"$3\"],\"cpus\":$4,\"memory_mib\":$5,\"min_isolation\":\"soft\"}")
  [ "${r%% *}" = 201 ] || { echo "sku $1: $r"; return 1; }
}
# Every slice kind, several competing for the same GPUs (whole against share and
# time-sliced vGPU on the H100s' and A100s' plain GPUs; bare MIG against MIG-backed vGPU on
# the H100s' MIG GPUs; two vGPU types per model), CPUs and memory sized to bind too.
SKUS=(whole-h100x2 share-h100 vgpu-h100-20c vgpu-h100-40c mig-h100-1g mig-h100-3g migvgpu-h100
      whole-a100 share-a100 whole-l40s vgpu-l40s-12c vgpu-l40s-24c share-l40s)
ok_skus=0
sku whole-h100x2 '{"kind":"whole","gpu_count":2}' H100-80GB 8 65536 &&
sku share-h100 '{"kind":"share","share_milli":400}' H100-80GB 4 16384 &&
sku vgpu-h100-20c '{"kind":"vgpu","vgpu_type":"H100XM-20C"}' H100-80GB 2 8192 &&
sku vgpu-h100-40c '{"kind":"vgpu","vgpu_type":"H100XM-40C"}' H100-80GB 2 8192 &&
sku mig-h100-1g '{"kind":"mig","mig_profile":"1g.10gb"}' H100-80GB 2 8192 &&
sku mig-h100-3g '{"kind":"mig","mig_profile":"3g.40gb"}' H100-80GB 4 16384 &&
sku migvgpu-h100 '{"kind":"vgpu","vgpu_type":"H100XM-1-10C"}' H100-80GB 2 8192 &&
sku whole-a100 '{"kind":"whole","gpu_count":1}' A100-80GB 16 262144 &&
sku share-a100 '{"kind":"share","share_milli":300}' A100-80GB 8 131072 &&
sku whole-l40s '{"kind":"whole","gpu_count":1}' L40S 8 32768 &&
sku vgpu-l40s-12c '{"kind":"vgpu","vgpu_type":"L40S-12C"}' L40S 4 16384 &&
sku vgpu-l40s-24c '{"kind":"vgpu","vgpu_type":"L40S-24C"}' L40S 4 16384 &&
sku share-l40s '{"kind":"share","share_milli":250}' L40S 2 8192 && ok_skus=1
expect_eq "SKUs of every slice kind created" 1 "$ok_skus"

# ---- the load -------------------------------------------------------------------------
LAUNCHED="$T/acked-launches" # every acknowledged launch: "POD_ID"
STOPPED="$T/acked-stops"     # every acknowledged stop: "POD_ID"
LAST_ID=""
# launch_one SKU OPS: one POST /v1/pods; appends "L STATUS" to OPS and, when acknowledged
# (201 with an id), the id to $LAUNCHED; sets LAST_ID.
launch_one() {
  local out code
  LAST_ID=""
  out=$(curl -s -m 10 -w '\n%{http_code}' -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
        --data-binary "{\"sku\":\"$1\"}" "$URL/v1/pods" 2>/dev/null)
  code=${out##*$'\n'}
  echo "L $code" >>"$2"
  if [ "$code" = 201 ] && [[ $out =~ \"id\":\"(pod-[0-9a-f]+)\" ]]; then
    LAST_ID=${BASH_REMATCH[1]}
    echo "$LAST_ID" >>"$LAUNCHED"
  fi
}
# stop_one POD OPS: one POST /v1/pods/POD/stop; "S STATUS" to OPS, the id to $STOPPED when
# acknowledged (200 or 202).
stop_one() {
  local code
  code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $ADMIN" \
         "$URL/v1/pods/$1/stop" 2>/dev/null)
  echo "S $code" >>"$2"
  case $code in 200|202) echo "$1" >>"$STOPPED" ;; esac
}
READS=("/v1/pods" "/v1/pods?all=1" "/v1/usage" "/v1/hosts" "/v1/gpus")
# read_one OPS: one GET of a list; "Q STATUS" to OPS.
read_one() {
  local code
  code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" \
         "$URL${READS[RANDOM % ${#READS[@]}]}" 2>/dev/null)
  echo "Q $code" >>"$1"
}
# live_one OPS: one GET /v1/pods ("Q STATUS" to OPS); prints one of the live pods it lists.
live_one() {
  local out code
  out=$(curl -s -m 10 -w '\n%{http_code}' -H "Authorization: Bearer $ADMIN" "$URL/v1/pods" 2>/dev/null)
  code=${out##*$'\n'}
  echo "Q $code" >>"$1"
  [ "$code" = 200 ] && grep -o '"id":"pod-[0-9a-f]*"' <<<"$out" | shuf -n 1 | cut -d'"' -f4
}
# client N: launches (45% of its operations, now and then four at once), stops (35%: one of
# its own pods, or one of the live pods GET /v1/pods lists) and reads, until $T/halt exists; while
# $T/pause exists it does nothing and says so with $T/paused.N. It ends with the script.
client() {
  local n=$1 mine=() r i id ops
  ops="$T/ops.$n"
  RANDOM=$((SEED + n * 7919))
  while [ ! -e "$T/halt" ] && [ -d "$T" ] && kill -0 "$$" 2>/dev/null; do
    if [ -e "$T/pause" ]; then touch "$T/paused.$n"; sleep 0.02; continue; fi
    r=$((RANDOM % 20))
    if [ "$r" -eq 0 ]; then
      for i in 1 2 3 4; do launch_one "${SKUS[RANDOM % ${#SKUS[@]}]}" "$ops" & done
      wait
    elif [ "$r" -lt 9 ]; then
      launch_one "${SKUS[RANDOM % ${#SKUS[@]}]}" "$ops"
      [ -n "$LAST_ID" ] && mine+=("$LAST_ID")
    elif [ "$r" -lt 16 ]; then
      if [ "${#mine[@]}" -gt 0 ] && [ $((RANDOM % 2)) -eq 0 ]; then
        i=$((RANDOM % ${#mine[@]})); id=${mine[$i]}; mine=("${mine[@]:0:$i}" "${mine[@]:$((i + 1))}")
      else
        id=$(live_one "$ops")
      fi
      [ -n "$id" ] && stop_one "$id" "$ops"
    else
      read_one "$ops"
    fi
    tail -n 1 "$ops" 2>/dev/null | grep -q ' 000$' && sleep 0.05 # the control plane is down
  done
}
# pause_clients: asks every client to stop after its operation in flight; waits until all have.
pause_clients() {
  rm -f "$T"/paused.*
  touch "$T/pause"
  for _ in $(seq 600); do
    local all=1
    for n in $(seq "$CLIENTS"); do [ -e "$T/paused.$n" ] || { all=0; break; }; done
    [ "$all" = 1 ] && return 0
    sleep 0.02
  done
  echo "clients did not pause"
}

# ---- the checks -----------------------------------------------------------------------
# api_pods FILE: every pod as "ID STATE" from GET /v1/pods?all=1, following next_cursor.
api_pods() {
  local cursor="" page q
  : >"$1"
  for _ in $(seq 10000); do
    q=(--data-urlencode all=1 --data-urlencode limit=1000)
    [ -n "$cursor" ] && q+=(--data-urlencode "cursor=$cursor")
    page=$(curl -sf -m 30 -G "${q[@]}" -H "Authorization: Bearer $ADMIN" "$URL/v1/pods") || return 1
    jq -r '.pods[] | "\(.id) \(.state)"' <<<"$page" >>"$1" || return 1
    cursor=$(jq -r '.next_cursor // empty' <<<"$page")
    [ -n "$cursor" ] || return 0
  done
}
# api_ledger: GET /v1/gpus as crash_check --ledger prints the database's ledger.
api_ledger() {
  curl -sf -m 30 -H "Authorization: Bearer $ADMIN" "$URL/v1/gpus" |
    jq -r '.gpus | sort_by(.uuid)[] | if .mig_enabled then "\(.uuid) mig \(.mig_used_slots)"
                                      else "\(.uuid) milli \(.allocated_milli)" end'
}
VIOLATIONS=0
UNSETTLED=0
# check_cycle N: the checker on the live database and the API (clients paused), then the
# API's ledger against the database's (read until two API reads around it agree: the
# agents may still be finishing starts and stops).
check_cycle() {
  local out rc a d b n opsargs=(--ops "$T/ops.main")
  for n in $(seq "$CLIENTS"); do opsargs+=(--ops "$T/ops.$n"); done
  api_pods "$T/api-pods" || echo "GET /v1/pods failed" >"$T/api-pods.err"
  out=$("$CHECK" --db "$DB" --catalog "$CATALOG" --acked-launches "$LAUNCHED" --acked-stops "$STOPPED" \
        --api-pods "$T/api-pods" --prev "$T/usage.snap" --save "$T/usage.snap" --cycle "$1" \
        "${opsargs[@]}" 2>&1); rc=$?
  echo "$out" | grep -v '^VIOLATION' | tail -1 >"$T/last-summary"
  if [ "$rc" -ne 0 ]; then
    VIOLATIONS=$((VIOLATIONS + $(echo "$out" | grep -c '^VIOLATION') + (rc == 2)))
    echo "$out" | sed 's/^/  /'
  fi
  [ -s "$T/api-pods.err" ] && { VIOLATIONS=$((VIOLATIONS + 1)); echo "  VIOLATION api: $(cat "$T/api-pods.err")"; rm -f "$T/api-pods.err"; }
  for _ in $(seq 30); do
    a=$(api_ledger); d=$("$CHECK" --ledger --db "$DB" --catalog "$CATALOG"); b=$(api_ledger)
    if [ -n "$a" ] && [ "$a" = "$b" ]; then
      if [ "$a" != "$d" ]; then
        VIOLATIONS=$((VIOLATIONS + 1))
        echo "  VIOLATION ledger: GET /v1/gpus differs from the database's live pods (cycle $1):"
        diff <(echo "$d") <(echo "$a") | sed 's/^/    /'
      fi
      return 0
    fi
    sleep 0.1
  done
  UNSETTLED=$((UNSETTLED + 1))
}

# ---- the self-test: the checker bites ---------------------------------------------------
# wait_state POD STATE: until GET /v1/pods/POD says STATE (60 s at most).
wait_state() {
  for _ in $(seq 600); do
    [ "$(curl -sf -H "Authorization: Bearer $ADMIN" "$URL/v1/pods/$1" | jq -r .state)" = "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
echo "[self-test] the checker reports each corruption of a copy of the database"
declare -A FIRST=()
for s in whole-l40s mig-h100-3g share-a100 vgpu-l40s-12c whole-a100; do
  launch_one "$s" "$T/ops.main"; FIRST[$s]=$LAST_ID
done
W=${FIRST[whole-l40s]} M=${FIRST[mig-h100-3g]} S=${FIRST[share-a100]} V=${FIRST[vgpu-l40s-12c]} X=${FIRST[whole-a100]}
check "one pod of each kind launched" test -n "$W" -a -n "$M" -a -n "$S" -a -n "$V" -a -n "$X"
for p in "$W" "$M" "$S" "$V" "$X"; do wait_state "$p" running || echo "$p did not run"; done
stop_one "$X" "$T/ops.main"
check "a stopped pod (its usage record closed)" wait_state "$X" stopped
sqlite3 "$DB" ".backup '$T/clean.db'" && sqlite3 "$T/clean.db" 'PRAGMA journal_mode=DELETE' >/dev/null
api_pods "$T/api-clean"
CK=("$CHECK" --catalog "$CATALOG" --acked-launches "$LAUNCHED" --acked-stops "$STOPPED" --prev "$T/clean.snap")
check "the clean copy passes" "${CK[@]}" --db "$T/clean.db" --api-pods "$T/api-clean" --save "$T/clean.snap"
# dup SRC NEW [SET...]: SQL that copies live pod SRC (and its GPUs) as NEW, with SET applied.
dup() {
  echo "CREATE TEMP TABLE d AS SELECT * FROM pods WHERE id = '$1'; UPDATE d SET id = '$2'${3:+, $3};
        INSERT INTO pods SELECT * FROM d; DROP TABLE d;
        CREATE TEMP TABLE g AS SELECT * FROM pod_gpus WHERE pod_id = '$1'; UPDATE g SET pod_id = '$2';
        INSERT INTO pod_gpus SELECT * FROM g; DROP TABLE g;"
}
# bites NAME CHECK SQL [API_PODS]: a copy corrupted by SQL must fail, naming CHECK.
bites() {
  local out
  cp "$T/clean.db" "$T/bad.db"
  sqlite3 "$T/bad.db" "$3" || { bad "$1: the corruption did not apply"; return; }
  out=$("${CK[@]}" --db "$T/bad.db" --api-pods "${4:-$T/api-clean}" 2>&1)
  if [ $? -eq 1 ] && grep -q "^VIOLATION $2:" <<<"$out"; then ok "$1 is reported ($2)"
  else bad "$1 is not reported as $2: $out"; fi
}
bites "a whole GPU booked twice" whole_twice "$(dup "$W" pod-dup00001)"
bites "overlapping MIG slot ranges" mig_overlap "$(dup "$M" pod-dup00002)"
bites "shares past 1000 thousandths" share_over "$(dup "$S" pod-dup00003 'place_share_milli = 800')"
bites "vGPUs past the type's max per GPU" vgpu_max \
  "$(for i in 1 2 3 4; do dup "$V" "pod-dupv000$i"; done)"
bites "two time-sliced vGPU types on one GPU" vgpu_types "$(dup "$V" pod-dup00004 "place_vgpu_type = 'L40S-24C'")"
bites "two slice kinds on one GPU" kinds_mixed "$(dup "$V" pod-dup00005 "slice_kind = 'share', place_share_milli = 100")"
bites "a host's CPUs booked past its count" host_capacity "UPDATE pods SET place_cpus = 100000 WHERE id = '$W'"
bites "a live pod not placed" placed_iff_live "UPDATE pods SET placed = 0 WHERE id = '$S'"
bites "a closed usage record changed" usage_changed "UPDATE usage SET end_ms = end_ms + 1000 WHERE end_ms != 0"
bites "a second usage record of a pod" usage_once \
  "INSERT INTO usage (pod_id, owner, project, sku, host_id, slice_kind, isolation, gpu_milli, price_micro_per_hour,
   start_ms, end_ms) SELECT pod_id, owner, project, sku, host_id, slice_kind, isolation, gpu_milli,
   price_micro_per_hour, start_ms, 0 FROM usage WHERE pod_id = '$W'"
bites "a usage record left open for a stopped pod" usage_open "UPDATE usage SET end_ms = 0 WHERE pod_id = '$X'"
bites "an acknowledged launch deleted" ack_launch "DELETE FROM pod_gpus WHERE pod_id = '$M'; DELETE FROM pods WHERE id = '$M'"
bites "an acknowledged stop undone" ack_stop "UPDATE pods SET state = 'running', placed = 1 WHERE id = '$X'"
grep -v "^$S " "$T/api-clean" >"$T/api-bad"
bites "an acknowledged launch missing from the API" api_launch ";" "$T/api-bad"
cp "$T/clean.db" "$T/bad.db"
pages=$(( $(stat -c %s "$T/bad.db") / 4096 ))
dd if=/dev/zero of="$T/bad.db" bs=4096 seek=$((pages / 2)) count=2 conv=notrunc 2>/dev/null
out=$("${CK[@]}" --db "$T/bad.db" 2>&1); rc=$?
if [ "$rc" -eq 1 ] && grep -q '^VIOLATION' <<<"$out"; then ok "a corrupt database file is reported ($(grep -m1 -o '^VIOLATION [a-z_]*' <<<"$out"))"
else bad "a corrupt database file is not reported: rc $rc $out"; fi

# ---- the cycles -------------------------------------------------------------------------
echo "[crash-load] $CYCLES kill cycles"
rm -f "$T/usage.snap"
touch "$T/pause"
CPIDS=()
for n in $(seq "$CLIENTS"); do client "$n" & CPIDS+=("$!"); PIDS+=("$!"); done
BURSTS=0 FROZEN=0
for cycle in $(seq "$CYCLES"); do
  pause_clients
  check_cycle "$cycle"
  [ $((cycle % 10)) -eq 0 ] && echo "  $(cat "$T/last-summary")"
  # In half the cycles one agent is frozen (SIGSTOP) from here until after the next check:
  # its pods wait in starting and stopping through the kill and the restart.
  kill -CONT "${AGENTS[@]}" 2>/dev/null
  if [ $((RANDOM % 2)) -eq 0 ]; then kill -STOP "${AGENTS[RANDOM % ${#AGENTS[@]}]}"; FROZEN=$((FROZEN + 1)); fi
  rm -f "$T/pause" # the load runs for 0.1 .. 1.5 s, then the kill
  sleep "$(printf '0.%03d' $((100 + RANDOM % 900)))"
  [ $((RANDOM % 2)) -eq 0 ] && sleep "0.$((RANDOM % 5))"
  if [ $((RANDOM % 3)) -eq 0 ]; then # a burst of launches in flight at the kill
    for _ in 1 2 3 4 5 6; do launch_one "${SKUS[RANDOM % ${#SKUS[@]}]}" "$T/ops.main" & done
    BURSTS=$((BURSTS + 1))
    sleep "0.0$((RANDOM % 4))"
  fi
  kill9 "$SERVE_PID"
  wait_bg=$(jobs -p | grep -vxF -f <(printf '%s\n' "${CPIDS[@]}"))
  for j in $wait_bg; do wait "$j" 2>/dev/null; done
  start_serve "$T/cp" || { bad "restart $cycle"; break; }
done
kill -CONT "${AGENTS[@]}" 2>/dev/null
pause_clients
check_cycle "$CYCLES"
touch "$T/halt"
wait "${CPIDS[@]}" 2>/dev/null
echo "  $(cat "$T/last-summary")"
echo "[crash-load] $CYCLES cycles ($BURSTS into a burst of launches, $FROZEN with an agent frozen), $VIOLATIONS violations, ledger unsettled in $UNSETTLED checks, $(( $(date +%s) - T0 )) s"
expect_eq "no violation in $CYCLES kill cycles" 0 "$VIOLATIONS"
acked=$(sed -n 's/.*ops: launches \([0-9]*\) acked.*/\1/p' "$T/last-summary")
check "the load was acknowledged launches ($acked)" test "${acked:-0}" -ge "$CYCLES"
finish
