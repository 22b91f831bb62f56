#!/usr/bin/env bash
# End to end: real daemon and agent on loopback; a member launches a MIG pod through
# the CLI into the oci sandbox (the default image), runs a command in it over real SSH as
# their own user, checking the pod's own host key (their key works, another user's key
# is refused), stops it, and finds a closed usage record with the right duration
# and GPU-equivalents. Also: bad input gets the right status and loses nothing.
# Without root (or runc), the same runs on the process runtime, and the sandbox's own
# checks are one skip (oci_runtime; tests/run.sh fails it under CI=true).
source "$(dirname "$0")/lib.sh"
G="$GPF_BIN"
RT=oci
if ! why=$(oci_available); then
  skip oci_runtime "$why: this run uses the process runtime (no sandbox); the sandbox's checks are left out"
  RT=process
fi
ISO_FLAGS=(); [ "$RT" = process ] && ISO_FLAGS=(--min-isolation soft)
ISO_JSON=; [ "$RT" = process ] && ISO_JSON=',"min_isolation":"soft"'

echo "[setup] control plane and one agent (8x H100, GPUs 6-7 in MIG mode)"
start_serve "$T/cp" || exit 1
ADMIN=$(admin_token "$T/cp")
expect_match "first start prints an admin token once" '^gpf_' "$ADMIN"
mkdir -p "$T/cdi"
OCI_FLAGS=(--cdi-spec-dirs "$T/cdi" --ssh-port-min $((PORT_BASE + 50)) --ssh-port-max $((PORT_BASE + 59)))
if [ "$RT" = oci ]; then start_agent gpu-h100-a oci "${OCI_FLAGS[@]}" || exit 1
else start_agent gpu-h100-a "$RT" || exit 1; fi

"$G" login --server "$URL" --token "$ADMIN" >/dev/null 2>"$T/login.err"
check "admin logs in with the CLI" test -s "$GPUFLEET_CONFIG"
check "admin creates a MIG SKU" "$G" sku create --name h100-1g --kind mig --mig-profile 1g.10gb \
  --model H100-80GB --cpus 2 --memory-mib 4096 --price-per-hour 0.40 --description "H100 1g.10gb" "${ISO_FLAGS[@]}"
[ "$RT" = oci ] && check "admin imports the default image" import_default_image
expect_eq "sku ls --json lists it" "h100-1g" "$("$G" sku ls --json | json_get '.skus[0].name')"

echo "[users] alice (member) and bob (member), each with their own key"
for u in alice bob; do
  mkdir -p "$T/$u"
  ssh-keygen -q -t ed25519 -N '' -C "$u" -f "$T/$u/id_ed25519"
  check "admin creates user $u" "$G" user create "$u" --role member --ssh-key "$T/$u/id_ed25519.pub"
  tok=$("$G" token create --user "$u" --json | json_get .token)
  GPUFLEET_CONFIG="$T/$u/config.json" "$G" login --server "$URL" --token "$tok" \
      --ssh-key "$T/$u/id_ed25519.pub" >/dev/null 2>>"$T/login.err"
  check "$u logs in" test -s "$T/$u/config.json"
done
A() { GPUFLEET_CONFIG="$T/alice/config.json" "$G" "$@"; }
B() { GPUFLEET_CONFIG="$T/bob/config.json" "$G" "$@"; }

echo "[launch] alice launches a pod and uses it over SSH"
t0=$(date +%s%N)
POD=$(A pod launch h100-1g --quiet)
t1=$(date +%s%N)
expect_match "pod launch prints the pod id" '^pod-[0-9a-f]{8}$' "$POD"
echo "  launch-to-running: $(( (t1 - t0) / 1000000 )) ms"
pj=$(A pod show "$POD" --json)
MIG_ISO=$(echo "$pj" | json_get .isolation)
expect_eq "pod is running" running "$(echo "$pj" | json_get .state)"
expect_eq "pod sits on the MIG host" gpu-h100-a "$(echo "$pj" | json_get .placement.host_id)"
expect_eq "MIG 1g.10gb on H100 is 142 milli-GPU" 142 "$(echo "$pj" | json_get .placement.gpu_milli)"
out=$(A ssh "$POD" -- 'echo "$GPUFLEET_POD_ID|$CUDA_VISIBLE_DEVICES|$NVIDIA_VISIBLE_DEVICES"' 2>"$T/ssh.err")
expect_match "alice runs a command in her pod over ssh" "^$POD\\|MIG-[0-9a-f-]+\\|MIG-" "$out"
port=$(echo "$pj" | json_get .ssh.port); user=$(echo "$pj" | json_get .ssh.user)
if [ "$RT" = oci ]; then
  expect_eq "the sandbox gives the MIG slice hardware isolation" hardware "$MIG_ISO"
  expect_eq "alice logs in as herself" alice "$user"
  expect_match "every layer is in force" 'userns.*netns.*seccomp.*devices.*cgroups' \
    "$(echo "$pj" | jq -r '.isolation_layers | join(" ")')"
  hk=$(echo "$pj" | json_get .ssh.host_key)
  expect_match "the pod has a host key of its own" "^ssh-ed25519 .* gpufleet-$POD\$" "$hk"
  fp=$(echo "$hk" | ssh-keygen -lf - | cut -d' ' -f2)
  expect_eq "its fingerprint is the one ssh-keygen computes" "$fp" "$(echo "$pj" | json_get .ssh.host_key_fingerprint)"
  expect_match "gpufleet ssh checked it (known_hosts entry)" "^\[127.0.0.1\]:$port ssh-ed25519 " \
    "$(grep -F "[127.0.0.1]:$port" "$T/alice/known_hosts")"
  expect_eq "the image's userland, not the host's" debian "$(A ssh "$POD" -- '. /etc/os-release; echo $ID' 2>/dev/null)"
  expect_eq "sudo works inside" root "$(A ssh "$POD" -- 'sudo -n whoami' 2>/dev/null)"
  # A man in the middle: another key at the pod's address is refused, not trusted.
  sed -i "s#^\[127.0.0.1\]:$port ssh-ed25519 .*#[127.0.0.1]:$port $(cut -d' ' -f1,2 "$T/bob/id_ed25519.pub")#" \
    "$T/alice/known_hosts"
  if ssh -i "$T/alice/id_ed25519" -p "$port" -o UserKnownHostsFile="$T/alice/known_hosts" -o StrictHostKeyChecking=yes \
       -o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=5 "alice@127.0.0.1" true 2>/dev/null; then
    bad "a host key other than the pod's is refused"
  else ok "a host key other than the pod's is refused"; fi
  A pod show "$POD" >/dev/null 2>&1 # writes the pod's own entry back
  cmd=$(A pod show "$POD" --json | json_get .ssh.command)
  expect_match "pod show --json gives the ssh line for this machine" "UserKnownHostsFile=" "$cmd"
  expect_eq "... which works as pasted, checking the host key" pasted \
    "$(eval "$cmd -o BatchMode=yes -o LogLevel=ERROR echo pasted" 2>/dev/null)"
fi
if ssh -i "$T/bob/id_ed25519" -p "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
     -o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=5 "$user@127.0.0.1" true 2>/dev/null; then
  bad "bob's key is refused by alice's pod"
else ok "bob's key is refused by alice's pod"; fi
# To bob, alice's pod is an unknown pod, answered word for word as one (its existence does not leak).
B pod show "$POD" >/dev/null 2>"$T/bob.err"; rc=$?
expect_eq "bob cannot see alice's pod (exit 3, not found)" 3 "$rc"
expect_eq "bob's error is one line" 1 "$(wc -l <"$T/bob.err")"
B pod show pod-00000000 >/dev/null 2>"$T/bob-unknown.err"
expect_eq "bob's error is an unknown pod's" "$(sed "s/pod-00000000/$POD/" "$T/bob-unknown.err")" "$(cat "$T/bob.err")"
B pod stop "$POD" >/dev/null 2>"$T/bob-stop.err"; expect_eq "bob cannot stop alice's pod (exit 3)" 3 "$?"
expect_eq "bob's stop error is an unknown pod's" "$(cat "$T/bob.err")" "$(cat "$T/bob-stop.err")"
expect_eq "bob's pod list is empty" 0 "$(B pod ls --json | json_get '.pods | length')"

# A process of this run's own: "sleep 600.N" with N random, looked for by its exact command line.
SLEEPER="sleep 600.$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"
A ssh "$POD" -- "nohup $SLEEPER >/dev/null 2>&1 &" 2>/dev/null
check "a background process runs in the pod" wait_for 30 pgrep -fx "$SLEEPER"

echo "[stop] alice stops the pod; everything in it dies; usage is closed"
state_is() { [ "$("$1" pod show "$2" --json | json_get .state)" = "$3" ]; } # state_is A|B POD STATE
sleeper_gone() { ! pgrep -fx "$SLEEPER" >/dev/null; }
t2=$(date +%s%N)
check "alice stops her pod" A pod stop "$POD"
wait_for 30 state_is A "$POD" stopped
t3=$(date +%s%N)
expect_eq "pod is stopped" stopped "$(A pod show "$POD" --json | json_get .state)"
if wait_for 30 sleeper_gone; then ok "nothing of the pod keeps running"
else bad "nothing of the pod keeps running ($SLEEPER: $(pgrep -fx "$SLEEPER" | tr '\n' ' '))"; fi
if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then bad "pod sshd port is closed"; else ok "pod sshd port is closed"; fi
uj=$(A usage --json)
expect_eq "one usage record" 1 "$(echo "$uj" | json_get '.usage | length')"
expect_match "usage record is closed" 'Z$' "$(echo "$uj" | json_get '.usage[0].end_at')"
dur=$(echo "$uj" | json_get '.usage[0].duration_ms')
# at least from launch's answer (running) to the stop request, at most from launch to stopped
lo=$(( (t2 - t1) / 1000000 )); hi=$(( (t3 - t0) / 1000000 + 1 ))
if [ "$dur" -ge "$lo" ] && [ "$dur" -le "$hi" ]; then ok "usage duration is right ($lo <= $dur <= $hi ms)"
else bad "usage duration is right ($lo <= $dur <= $hi ms)"; fi
expect_eq "usage GPU-equivalents" 142 "$(echo "$uj" | json_get '.usage[0].gpu_milli')"
expect_eq "usage cost is price x duration" "$(( 400000 * dur / 3600000 ))" "$(echo "$uj" | json_get '.usage[0].cost_micro')"
expect_eq "ledger is free again" 0 "$("$G" gpu ls --json | jq '[.gpus[].allocated_milli] | add')"
A pod stop "$POD" >/dev/null 2>&1; expect_eq "stopping a stopped pod is a conflict (exit 5)" 5 "$?"

echo "[bad input] clear errors, the daemon keeps serving, nothing is lost"
r=$(api POST /v1/skus '{"name":'); expect_match "malformed JSON -> 400 malformed" '^400 .*"malformed"' "$r"
r=$(api POST /v1/skus '[1,2]'); expect_match "non-object body -> 400" '^400 ' "$r"
r=$(api POST /v1/skus '{"name":"x","slice":{"kind":"whole"},"bogus":1}'); expect_match "unknown field -> 422 naming it" '^422 .*bogus' "$r"
r=$(api POST /v1/skus '{"name":"x","slice":{"kind":"share","share_milli":"lots"}}'); expect_match "wrong type -> 422" '^422 .*share_milli' "$r"
big=$(head -c 70000 /dev/zero | tr '\0' 'a')
r=$(api POST /v1/skus "{\"name\":\"$big\"}"); expect_match "oversize body -> 413" '^413 .*too_large' "$r"
r=$(api POST /v1/pods '{"sku":"no-such-sku"}'); expect_match "unknown SKU -> 404" '^404 .*no-such-sku' "$r"
r=$(api GET /v1/pods '' 'gpf_wrong'); expect_match "unknown token -> 401" '^401 .*unauthenticated' "$r"
r=$(curl -s -w ' %{http_code}' "$URL/v1/hosts"); expect_match "missing token -> 401" '401$' "$r"
r=$(api DELETE /v1/pods); expect_match "wrong method -> 405" '^405 ' "$r"
r=$(api GET /v1/nothing); expect_match "unknown path -> 404" '^404 ' "$r"
r=$(api POST /v1/skus '{"name":"big","slice":{"kind":"whole","gpu_count":8},"gpu_models":["H100-80GB-SXM5"],"cpus":2000}')
expect_match "out-of-range value -> 422" '^422 .*cpus' "$r"
r=$(api POST /v1/skus '{"name":"h100-8","slice":{"kind":"whole","gpu_count":8},"gpu_models":["H100-80GB-SXM5"],"cpus":8'"$ISO_JSON"'}')
expect_match "admin creates an 8-GPU SKU" '^201 ' "$r"
ALICE_TOK=$(jq -r .token "$T/alice/config.json")
r=$(api POST /v1/pods '{"sku":"h100-8"}' "$ALICE_TOK"); expect_match "no capacity (only 6 non-MIG GPUs) -> 409 with a reason" '^409 .*no_capacity' "$r"
r=$(api POST /v1/skus '{"name":"m","slice":{"kind":"whole"}}' "$ALICE_TOK"); expect_match "member cannot create SKUs -> 403" '^403 ' "$r"
AGENT_TOK=$(api POST /v1/agent/register '{"host":{"id":"gpu-bogus","cpus":4,"memory_mib":1024,"numa_nodes":1,"gpus":[{"uuid":"GPU-1","index":0,"model":"NoSuchGPU","name":"x","pci_bus_id":"0","numa_node":0,"memory_mib":1,"mig_enabled":false}]}}' "$JOIN")
expect_match "agent registering an unknown GPU model -> 422" '^422 .*NoSuchGPU' "$AGENT_TOK"
r=$(api POST /v1/agent/register '{"host":{"id":"gpu-x","cpus":4,"memory_mib":1024,"numa_nodes":1,"gpus":[]}}' "wrong-join")
expect_match "wrong join token -> 401" '^401 ' "$r"
r=$(api POST /v1/agent/register '{"host":{"id":"gpu-spare","cpus":4,"memory_mib":1024,"numa_nodes":1,"gpus":[{"uuid":"GPU-spare-1","index":0,"model":"L40S","name":"x","pci_bus_id":"0","numa_node":0,"memory_mib":46068,"mig_enabled":false}]}}' "$JOIN")
SPARE=$(echo "${r#* }" | json_get .agent_token)
r=$(api POST /v1/agent/heartbeat '{"pods":[],"gpus":["GPU-does-not-exist"]}' "$SPARE")
expect_match "agent reporting a GPU that does not exist -> 422" '^422 .*GPU-does-not-exist' "$r"
r=$(api POST /v1/agent/pods/"$POD"/status '{"state":"running"}' "$SPARE")
expect_match "agent reporting on another host's pod -> 404" '^404 ' "$r"
check "daemon still healthy" curl -sf "$URL/healthz"
expect_eq "store still consistent: alice's record intact" 1 "$(A usage --json | json_get '.usage | length')"
r=$(curl -s -H "Authorization: Bearer $ADMIN" "$URL/metrics")
expect_match "metrics in Prometheus text format" 'gpufleet_pods\{state="stopped"\} 1' "$r"

echo "[vgpu] a MIG-backed vGPU pod is a MIG instance of its type's profile"
r=$(api POST /v1/skus '{"name":"h100-vgpu3g","slice":{"kind":"vgpu","vgpu_type":"H100XM-3-40C"},"gpu_models":["H100-80GB"],"cpus":2,"memory_mib":4096'"$ISO_JSON"'}')
expect_match "admin creates a MIG-backed vGPU SKU" '^201 ' "$r"
r=$(api POST /v1/skus '{"name":"a100-vgpu","slice":{"kind":"vgpu","vgpu_type":"A100D-3-40C"},"gpu_models":["H100-80GB"]}')
expect_match "a MIG-backed type no allowed model runs -> 422" '^422 .*A100-80GB' "$r"
VP=$(B pod launch h100-vgpu3g --quiet)
expect_match "bob launches a MIG-backed vGPU pod" '^pod-[0-9a-f]{8}$' "$VP"
vj=$(B pod show "$VP" --json)
expect_eq "vGPU pod is running" running "$(echo "$vj" | json_get .state)"
expect_eq "placement names the vGPU type" H100XM-3-40C "$(echo "$vj" | json_get .placement.vgpu_type)"
expect_eq "placement carries the 3g.40gb instance (profile 9, 4 slots)" "9 4" \
  "$(echo "$vj" | jq -r '"\(.placement.mig_profile_id) \(.placement.mig_size)"')"
expect_eq "on a MIG-mode GPU of the H100 host" gpu-h100-a "$(echo "$vj" | json_get .placement.host_id)"
expect_eq "3g on H100 is 428 milli-GPU" 428 "$(echo "$vj" | json_get .placement.gpu_milli)"
expect_eq "isolated as the MIG slice was" "$MIG_ISO" "$(echo "$vj" | json_get .isolation)"
out=$(B ssh "$VP" -- 'echo "$CUDA_VISIBLE_DEVICES"' 2>"$T/ssh-vgpu.err")
expect_match "the pod sees a MIG device" '^MIG-[0-9a-f-]+$' "$out"
r=$(api POST /v1/pods '{"sku":"h100-1g"}' "$ALICE_TOK")
expect_match "a bare MIG slice still fits on the other MIG GPU" '^201 ' "$r"
MP=$(echo "${r#* }" | json_get .id)
VGPU_GPU=$(echo "$vj" | json_get '.placement.gpu_uuids[0]')
MIG_GPU=$(A pod show "$MP" --json | json_get '.placement.gpu_uuids[0]')
if [ -n "$MIG_GPU" ] && [ "$MIG_GPU" != "$VGPU_GPU" ]; then ok "... not on the vGPU's GPU"; else bad "... not on the vGPU's GPU ($MIG_GPU)"; fi
check "alice stops her MIG pod" A pod stop "$MP"
check "bob stops his vGPU pod" B pod stop "$VP"
wait_for 30 state_is B "$VP" stopped
expect_eq "vGPU pod is stopped" stopped "$(B pod show "$VP" --json | json_get .state)"

if [ "$RT" = oci ]; then
  echo "[cdi] a CDI spec the host gets while the agent runs is used for the next pod"
  uuids=$("$G" gpu ls --json | jq -c '[.gpus[] | select(.host_id == "gpu-h100-a" and (.mig_enabled | not)) | .uuid]')
  jq -n --argjson u "$uuids" '{cdiVersion: "0.6.0", kind: "nvidia.com/gpu",
      devices: [$u[] | {name: ., containerEdits: {env: ["GPF_TEST_CDI=host-spec"]}}]}' > "$T/cdi/.nvidia.json"
  mv "$T/cdi/.nvidia.json" "$T/cdi/nvidia.json" # as nvidia-ctk writes it: a rename into the directory
  check "admin creates a share SKU" "$G" sku create --name h100-q --kind share --share-milli 250 --model H100-80GB \
    --cpus 1 --memory-mib 1024
  QP=$(A pod launch h100-q --quiet)
  expect_eq "the host's spec names the pod's GPU: its environment is the pod's" host-spec \
    "$(A ssh "$QP" -- 'echo $GPF_TEST_CDI' 2>/dev/null)"
  expect_match "the pod says its devices came per CDI" "devices per CDI" "$(A pod show "$QP" --json | json_get .reason)"

  echo "[restart] the agent restarts; the oci pod keeps running, with its home and host key"
  A ssh "$QP" -- 'echo kept-across-restart > $HOME/note' >/dev/null 2>&1
  pid_before=$(sed -n 's/^pid=//p' "$T/agent-gpu-h100-a/pods/$QP/state")
  kill -TERM "$AGENT_PID"; wait_for 30 sh -c "! kill -0 $AGENT_PID"
  # restarted as short of disk space as can be: images no pod uses go when a pod stops
  start_agent gpu-h100-a oci "${OCI_FLAGS[@]}" --image-gc-free-gb 1000000000 || exit 1
  # several heartbeats of the new agent (what it reports of the pod) reach the control plane
  check "the control plane hears the restarted agent 4 times" wait_beats gpu-h100-a 4
  expect_eq "the pod still runs" running "$(A pod show "$QP" --json | json_get .state)"
  expect_eq "the same container serves it (adopted, not restarted)" "$pid_before" \
    "$(sed -n 's/^pid=//p' "$T/agent-gpu-h100-a/pods/$QP/state")"
  expect_eq "its home kept what was written, its host key still checks" kept-across-restart \
    "$(A ssh "$QP" -- 'cat $HOME/note' 2>/dev/null)"
  QP2=$(A pod launch h100-q --quiet)
  check "alice stops it" A pod stop "$QP"
  wait_for 30 state_is A "$QP" stopped
  expect_eq "short of space, the agent keeps the image a pod still uses" 1 \
    "$(ls "$T/agent-gpu-h100-a/images/rootfs" | wc -l)"
  check "alice stops her other pod" A pod stop "$QP2"
  wait_for 30 sh -c "[ -z \"\$(ls '$T/agent-gpu-h100-a/images/rootfs')\" ]"
  expect_eq "... and removes it once no pod uses it" 0 "$(ls "$T/agent-gpu-h100-a/images/rootfs" | wc -l)"
  st=$(ps -o stat= -p "$pid_before" 2>/dev/null | cut -c1) # a zombie awaits its reaper: gone all the same
  if [ -n "$st" ] && [ "$st" != Z ]; then bad "its container is gone ($st)"; else ok "its container is gone"; fi
  expect_eq "nothing of it stays mounted" 0 "$(grep -c "/pods/$QP/" /proc/self/mountinfo)"
  if [ -e "$T/agent-gpu-h100-a/pods/$QP" ]; then bad "its files are deleted with it"; else ok "its files are deleted with it"; fi
fi
finish
