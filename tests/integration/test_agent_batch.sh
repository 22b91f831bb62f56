#!/usr/bin/env bash
# Agents report pod status in batches (issue 16, item 12): a burst of launches and stops on
# one host with the fake runtime; every pod goes running and then stopped as before, and the
# agent sent its reports as batches (POST /v1/agent/pods/status, counted in /metrics by
# endpoint), never one request per report. An old agent's single report still works.
source "$(dirname "$0")/lib.sh"
G="$GPF_BIN"
N=40

start_serve "$T/cp" || exit 1
ADMIN=$(admin_token "$T/cp")
"$G" login --server "$URL" --token "$ADMIN" >/dev/null 2>&1
start_agent gpu-h100-a fake || exit 1
check "create a tiny share SKU" "$G" sku create --name tiny --kind share --share-milli 10 --model H100-80GB --cpus 0 \
  --memory-mib 0 --min-isolation soft

metric() { curl -sf -H "Authorization: Bearer $ADMIN" "$URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
count_state() { curl -sf -H "Authorization: Bearer $ADMIN" "$URL/v1/pods?all=1&limit=1000" |
  jq --arg s "$1" '[(.pods // .)[] | select(.state == $s)] | length'; }

echo "[burst] $N launches at once, then $N stops at once"
for i in $(seq "$N"); do
  curl -s -o "$T/launch.$i.body" -w '%{http_code}\n' -X POST -H "Authorization: Bearer $ADMIN" \
    -H 'Content-Type: application/json' --data-binary '{"sku":"tiny"}' "$URL/v1/pods" >"$T/launch.$i.code" &
done
wait
for i in $(seq "$N"); do
  jq -r '.id // empty' "$T/launch.$i.body" 2>/dev/null >"$T/launch.$i"
  [ -s "$T/launch.$i" ] || echo "  launch $i: HTTP $(cat "$T/launch.$i.code") $(head -c 300 "$T/launch.$i.body")"
done
cat "$T"/launch.? "$T"/launch.?? | grep -c '^pod-' >"$T/launched"
expect_eq "all $N launches acknowledged" "$N" "$(cat "$T/launched")"
all_running() { [ "$(count_state running)" = "$N" ]; }
if wait_for 60 all_running; then ok "all $N pods running"; else bad "all $N pods running (running: $(count_state running))"; fi
for f in "$T"/launch.? "$T"/launch.??; do
  curl -sf -X POST -H "Authorization: Bearer $ADMIN" "$URL/v1/pods/$(cat "$f")/stop" >/dev/null &
done
wait
all_stopped() { [ "$(count_state stopped)" = "$N" ]; }
if wait_for 60 all_stopped; then ok "all $N pods stopped"; else bad "all $N pods stopped (stopped: $(count_state stopped))"; fi

single=$(metric 'gpufleet_agent_status_requests_total{endpoint="single"}')
batch=$(metric 'gpufleet_agent_status_requests_total{endpoint="batch"}')
reports=$(metric gpufleet_agent_status_reports_total)
echo "  agent status: $reports reports in $batch batch requests, $single single ones"
expect_eq "the agent sent no single report" 0 "$single"
expect_eq "every running and every stopped report reached the control plane" $((2 * N)) "$reports"
if [ "${batch:-0}" -ge 1 ] && [ "$batch" -lt "$reports" ]; then ok "fewer requests than reports ($batch < $reports)"
else bad "fewer requests than reports ($batch batch requests for $reports reports)"; fi
expect_eq "no report was refused" 0 "$(metric gpufleet_agent_bad_reports_total)"

echo "[old agents] the single endpoint still takes a report"
P=$(curl -sf -X POST -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  --data-binary '{"sku":"tiny"}' "$URL/v1/pods" | jq -r .id)
running() { [ "$("$G" pod show "$P" --json | jq -r .state)" = running ]; }
check "a new pod runs" wait_for 30 running
ATOK=$(cat "$T/agent-gpu-h100-a/agent-token" 2>/dev/null)
if [ -n "$ATOK" ]; then
  out=$(api POST "/v1/agent/pods/$P/status" '{"state":"failed","message":"an old agent says so"}' "$ATOK")
  expect_match "POST /v1/agent/pods/{id}/status answers 200" '^200 ' "$out"
  expect_eq "the pod failed as the old agent said" failed "$("$G" pod show "$P" --json | jq -r .state)"
  expect_eq "counted as a single report" 1 "$(metric 'gpufleet_agent_status_requests_total{endpoint="single"}')"
else
  bad "the agent keeps its token in agent-token"
fi
finish
