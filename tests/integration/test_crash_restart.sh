#!/usr/bin/env bash
# SIGKILL the control plane while pods run; restart it on the same state directory:
# no pod, slice or usage record is lost, the agent reconnects, SSH keeps working,
# and the ledger does not hand the same GPUs out twice.
source "$(dirname "$0")/lib.sh"
G="$GPF_BIN"

start_serve "$T/cp" || exit 1
SERVE_LISTEN="127.0.0.1:${URL##*:}"   # restarts come back on the same port
ADMIN=$(admin_token "$T/cp")
start_agent gpu-l40s-c || exit 1
"$G" login --server "$URL" --token "$ADMIN" >/dev/null 2>&1
check "create a whole-L40S SKU" "$G" sku create --name l40s --kind whole --gpus 1 --model L40S --cpus 1 --memory-mib 1024 --price-per-hour 1 \
  --min-isolation soft
check "create a quarter-L40S SKU" "$G" sku create --name l40s-q --kind share --share-milli 250 --model L40S --cpus 1 --memory-mib 1024 \
  --min-isolation soft

P1=$("$G" pod launch l40s --quiet)
P2=$("$G" pod launch l40s-q --quiet)
expect_match "two pods running" '^pod-.* pod-' "$P1 $P2"
before=$("$G" usage --json | jq -c '[.usage[] | {id, pod_id, start_at}] | sort_by(.id)')
slices=$("$G" gpu ls --json | jq -c '[.gpus[] | {uuid, allocated_milli}]')

port=$("$G" pod show "$P1" --json | json_get .ssh.port); user=$("$G" pod show "$P1" --json | json_get .ssh.user)
key=$(jq -r .identity_file "$GPUFLEET_CONFIG")

echo "[crash] kill -9 the control plane"
kill9 "$SERVE_PID"
check "pod 1 still answers ssh while the control plane is down" ssh -i "$key" -p "$port" -o StrictHostKeyChecking=no \
  -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR "$user@127.0.0.1" true
start_serve "$T/cp" || exit 1

for p in "$P1" "$P2"; do
  expect_eq "$p is still running after restart" running "$("$G" pod show "$p" --json | json_get .state)"
done
after=$("$G" usage --json | jq -c '[.usage[] | {id, pod_id, start_at}] | sort_by(.id)')
expect_eq "usage records identical after restart" "$before" "$after"
expect_eq "ledger identical after restart" "$slices" "$("$G" gpu ls --json | jq -c '[.gpus[] | {uuid, allocated_milli}]')"
out=$("$G" ssh "$P1" -- 'echo $GPUFLEET_POD_ID' 2>/dev/null)
expect_eq "ssh into pod 1 after restart" "$P1" "$out"

# The host has 2 L40S: one whole pod + one share pod hold both; a second whole must wait.
"$G" pod launch l40s --no-wait >/dev/null 2>&1; rc=$?
expect_eq "no double allocation after restart (exit 5: no capacity)" 5 "$rc"

host_ready() { "$G" host ls --json | jq -e '.hosts[] | select(.id=="gpu-l40s-c") | .state=="ready"'; }
state_is() { [ "$("$G" pod show "$1" --json | json_get .state)" = "$2" ]; } # state_is POD STATE
wait_for 30 host_ready
check "agent reconnected" bash -c "'$G' host ls --json | jq -e '.hosts[0].state==\"ready\"'"
check "stop pod 1 through the restarted control plane" "$G" pod stop "$P1"
wait_for 30 state_is "$P1" stopped
expect_eq "pod 1 stopped" stopped "$("$G" pod show "$P1" --json | json_get .state)"
expect_match "pod 1's usage record closed" 'Z$' "$("$G" usage --pod "$P1" --json | json_get '.usage[0].end_at')"

echo "[crash 2] kill -9 right after a stop is acknowledged"
"$G" pod stop "$P2" >/dev/null
kill9 "$SERVE_PID"
start_serve "$T/cp" || exit 1
wait_for 30 state_is "$P2" stopped
expect_eq "an acknowledged stop completes after restart" stopped "$("$G" pod show "$P2" --json | json_get .state)"
expect_eq "every usage record closed" 0 "$("$G" usage --json | jq '[.usage[] | select(.end_at == null)] | length')"
expect_eq "ledger empty" 0 "$("$G" gpu ls --json | jq '[.gpus[].allocated_milli] | add')"
finish
