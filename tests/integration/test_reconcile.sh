#!/usr/bin/env bash
# The ledger follows the hardware, end to end with real agents: a host whose preflight
# fails takes no pods until an operator overrides it; a pod whose processes die is failed
# (billing stops when the agent saw it) and its slice freed; an agent restart re-adopts
# the pods still running; a host whose agent goes silent is unreachable first (its pods
# kept, still metered) and lost with its pods once the host grace (here 3 s) is over.
source "$(dirname "$0")/lib.sh"
G="$GPF_BIN"

start_serve "$T/cp" --lost-after-beats 3 --host-grace-s 3 || exit 1
ADMIN=$(admin_token "$T/cp")
"$G" login --server "$URL" --token "$ADMIN" >/dev/null 2>&1
state() { "$G" pod show "$1" --json | jq -r .state; }
sched() { "$G" host show "$1" --json | jq -r .schedulable; }

echo "[gate] a passthrough host with the IOMMU off fails its preflight"
# the demo fleet with this host in passthrough mode, and a sysfs tree with no IOMMU groups
jq '(.hosts[] | select(.id == "gpu-l40s-c") | .deploy_mode) = "passthrough"' "$(dirname "$0")/../../data/demo-fleet.json" \
  > "$T/fleet.json"
mkdir -p "$T/sysfs/sys/devices/system/cpu" && echo "0-31" > "$T/sysfs/sys/devices/system/cpu/online"
AGENT_FLAGS=(--fake-fleet "$T/fleet.json" --sysfs-root "$T/sysfs")
start_agent gpu-l40s-c process "${AGENT_FLAGS[@]}" || exit 1
expect_eq "the host is not schedulable" false "$(sched gpu-l40s-c)"
expect_eq "its preflight verdict is fail" fail "$("$G" host show gpu-l40s-c --json | jq -r .preflight.verdict)"
expect_match "host show says why and how to override" 'preflight failed \(iommu.*host override gpu-l40s-c' \
  "$("$G" host show gpu-l40s-c)"
check "create a whole-L40S SKU" "$G" sku create --name l40s --kind whole --gpus 1 --model L40S --cpus 1 \
  --memory-mib 1024 --price-per-hour 3.6 --min-isolation soft
"$G" pod launch l40s --quiet --no-wait >/dev/null 2>&1; rc=$?
expect_eq "a launch finds no capacity (exit 5)" 5 "$rc"
"$G" host override gpu-l40s-c >/dev/null 2>&1; rc=$?
expect_eq "override without --reason is a usage error" 2 "$rc"
check "override with a reason" "$G" host override gpu-l40s-c --reason "VT-d is on, sysfs is stale"
expect_eq "the host is schedulable" true "$(sched gpu-l40s-c)"
expect_match "the override is in the events" 'override_set' "$("$G" events --host gpu-l40s-c)"

echo "[dead pod] its processes are killed behind the agent's back"
P1=$("$G" pod launch l40s --quiet)
expect_eq "pod 1 runs" running "$(state "$P1")"
pid=$(sed -n 's/^pid=//p' "$T/agent-gpu-l40s-c/pods/$P1/state")
kill -9 -- "-$pid" "$pid" 2>/dev/null
wait_for 30 sh -c "[ \"\$('$G' pod show $P1 --json | jq -r .state)\" = failed ]"
expect_eq "pod 1 is failed" failed "$(state "$P1")"
expect_match "its reason says the agent saw it die" 'agent saw the pod die' "$("$G" pod show "$P1" --json | jq -r .reason)"
expect_match "a pod_dead event names it" "pod_dead.*$P1|$P1.*pod_dead" "$("$G" events --kind pod_dead)"
expect_eq "its usage record is closed" 1 "$("$G" usage --pod "$P1" --json | jq '[.usage[] | select(.end_at != null)] | length')"
check "its GPU takes a new pod" "$G" pod launch l40s --quiet
P2=$("$G" pod ls --json | jq -r '[.pods[] | select(.state == "running")][0].id')

echo "[restart] the agent restarts; its pod keeps running"
usage_before=$("$G" usage --json | jq -c '[.usage[] | {id, pod_id}]')
pid_before=$(sed -n 's/^pid=//p' "$T/agent-gpu-l40s-c/pods/$P2/state")
kill -TERM "$AGENT_PID"; wait_for 30 sh -c "! kill -0 $AGENT_PID"
start_agent gpu-l40s-c process "${AGENT_FLAGS[@]}" || exit 1
# nothing may change: first several heartbeats of the new agent (each reporting its pods)
# must have reached the control plane, or the checks below would look too early
check "the control plane hears the restarted agent 4 times" wait_beats gpu-l40s-c 4
expect_eq "pod 2 still runs" running "$(state "$P2")"
expect_eq "no usage record was added or closed" "$usage_before" "$("$G" usage --json | jq -c '[.usage[] | {id, pod_id}]')"
expect_eq "the same process serves pod 2 (adopted, not restarted)" "$pid_before" \
  "$(sed -n 's/^pid=//p' "$T/agent-gpu-l40s-c/pods/$P2/state")"
check "and it is alive" kill -0 "$pid_before"
expect_eq "the override survived the restart" true "$(sched gpu-l40s-c)"

echo "[loss] the agent dies and stays away"
kill9 "$AGENT_PID"
hstate() { "$G" host show gpu-l40s-c --json | jq -r .state; }
wait_for 30 sh -c "[ \"\$('$G' host show gpu-l40s-c --json | jq -r .state)\" != ready ]"
expect_eq "the host is unreachable first" unreachable "$(hstate)"
expect_eq "pod 2 still runs" running "$(state "$P2")"
expect_eq "its reachability is unknown" unknown "$("$G" pod show "$P2" --json | jq -r .reachability)"
expect_eq "its usage is still open" 0 "$("$G" usage --pod "$P2" --json | jq '[.usage[] | select(.end_at != null)] | length')"
wait_for 30 sh -c "[ \"\$('$G' pod show $P2 --json | jq -r .state)\" = lost ]"
expect_eq "the host is lost" lost "$("$G" host show gpu-l40s-c --json | jq -r .state)"
expect_eq "pod 2 is lost" lost "$(state "$P2")"
expect_match "host_unreachable, host_lost and pod_lost events" 'host_unreachable.*host_lost.*pod_lost' "$("$G" events --host gpu-l40s-c | tr '\n' ' ')"
expect_eq "pod 2's usage is closed" 1 "$("$G" usage --pod "$P2" --json | jq '[.usage[] | select(.end_at != null)] | length')"
out=$("$G" events --json --limit 2)
expect_eq "events --limit 2 gives two" 2 "$(echo "$out" | jq '.events | length')"
finish
