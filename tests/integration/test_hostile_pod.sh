#!/usr/bin/env bash
# The hostile pod: alice runs the attack battery (attacks.sh) in her pod, as her login user
# and as pod root (sudo), while bob's pod and the control plane go about their business on
# the same host; every attack must be blocked, and the host must show no trace of them.
#
#   RUNTIME=oci (default)       the pod runtime under test; every attack must be blocked.
#                               Where the agent refuses to run it (not root, no runc, not
#                               built): one skip (runtime), exit 0; tests/run.sh fails that
#                               under CI=true, since tests/expected-skips does not list it.
#   GPF_HOSTILE_EXPECT=succeed  calibration against an unprotected runtime
#                               (RUNTIME=process): asserts that the attacks meant to work
#                               against it DO work, so each check is shown able to fail.
#   GPF_HOSTILE_CALIBRATE=host  (default when root; "none" to leave out) also runs the
#                               battery as host root outside any pod and asserts that every
#                               attack succeeds there (apart from those this machine cannot
#                               do at all: each a skip, calibration.ATTACK).
#   IMAGE_OS_ID=debian          the ID in the pod image's /etc/os-release (oci only).
#   GPF_HOSTILE_IMAGE           the pod image (an OCI layout) imported as "default" (oci);
#                               unset: scripts/build-image.sh's (built once, then cached).
#   GPF_HOSTILE_DEVROOT         the agent's --dev-root; unset: the test's own, holding
#                               /dev/nvidia* stand-ins (char 1:3), so that another GPU's node
#                               exists on any host; "/" for the host's real /dev.
#   GPF_HOSTILE_AGENT_FLAGS     extra agent flags (e.g. "--bwrap /path/to/bwrap").
#   GPF_HOSTILE_SKU_FLAGS       extra `sku create` flags (e.g. the image).
#   GPF_HOSTILE_LOG_DIR         where to copy every run's full output (run-<label>.out).
source "$(dirname "$0")/lib.sh"
G="$GPF_BIN"
HERE=$(cd "$(dirname "$0")" && pwd)
RUNTIME=${RUNTIME:-oci}
EXPECT=${GPF_HOSTILE_EXPECT:-blocked}
IMAGE_OS_ID=${IMAGE_OS_ID:-debian}
HOSTID=gpu-h100-a
ROOT=0; [ "$(id -u)" = 0 ] && ROOT=1
CALIBRATE=${GPF_HOSTILE_CALIBRATE:-$([ $ROOT = 1 ] && echo host || echo none)}
TAG=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
PD=/tmp/gpfh-$TAG # where the battery goes in the pod (on the host too, for a pod without its own /tmp)
mapfile -t ATTACK_NAMES < <(bash "$HERE/attacks.sh" --list)
ORIG_DOMAIN=$(cat /proc/sys/kernel/domainname 2>/dev/null)
note() { echo "  note - $*"; }

hostile_cleanup() {
  # Pods first, through the control plane while it still runs (lib's cleanup kills the rest).
  if [ -n "${APOD:-}${BPOD:-}" ] && [ -z "${STOPPED:-}" ]; then
    STOPPED=1
    [ -n "${APOD:-}" ] && A pod stop "$APOD" >/dev/null 2>&1
    [ -n "${BPOD:-}" ] && B pod stop "$BPOD" >/dev/null 2>&1
    for _ in $(seq 50); do
      [ "$(A pod show "$APOD" --json 2>/dev/null | jq -r .state)" != stopping ] &&
        [ "$(B pod show "$BPOD" --json 2>/dev/null | jq -r .state)" != stopping ] && break
      sleep 0.1
    done
  fi
  # lib.sh's cleanup kills "-$pid" of every pod state file: a pid=0 there (a pod that never
  # ran) would be this test's own process group. The agent goes first, then such lines.
  [ -n "${AGENT_PID:-}" ] && kill9 "$AGENT_PID"
  for f in "$T"/agent-*/pods/*/state; do
    [ -f "$f" ] && grep -qE '^pid=(0|1|-.*)?$' "$f" && sed -i -E 's/^pid=(0|1|-.*)?$/pid=/' "$f"
  done
  remove_markers
}
# Markers the battery may have left where the host would see them, and its directory.
remove_markers() {
  rm -f /tmp/gpf-attack-*-"$TAG"-* /var/tmp/gpf-attack-*-"$TAG"-* /dev/shm/gpf-attack-*-"$TAG"-* \
        /root/gpf-attack-*-"$TAG"-* "${HOME:-/root}"/gpf-attack-*-"$TAG"-* 2>/dev/null
  for d in ${STATE_DIR_HINTS:-} "$T"; do rm -f "$d"/gpf-attack-*-"$TAG"-* 2>/dev/null; done
  rm -rf "$PD" 2>/dev/null
  if [ -n "$ORIG_DOMAIN" ] && [ "$(cat /proc/sys/kernel/domainname 2>/dev/null)" != "$ORIG_DOMAIN" ]; then
    printf '%s' "$ORIG_DOMAIN" >/proc/sys/kernel/domainname 2>/dev/null
  fi
}
trap 'hostile_cleanup; cleanup' EXIT

skip_or_fail() { # (tests/run.sh fails it under CI=true: an unexpected skip)
  skip runtime "the $RUNTIME runtime is unavailable here, no attack is run: $*"
  finish; exit 0
}

# ---- the battery's helper and the host's fixtures -------------------------------------
echo "[setup] attack helper, host fixtures, control plane, agent (runtime $RUNTIME)"
if ! bash "$HERE/attacks.sh" --build-helper "$T/gpf-attack" >"$T/helper.log" 2>&1; then
  bad "the attack helper builds (cc -static): $(tail -3 "$T/helper.log")"; finish; exit 1
fi
chmod 0711 "$T" # traversable: only the sandbox may keep a pod from what is below
HOST_MARKER=$T/host-secret
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$HOST_MARKER"; chmod 0644 "$HOST_MARKER"
HOST_MARKER_SHA=$(sha256sum "$HOST_MARKER" | cut -d' ' -f1)
HOST_SHADOW_SHA=$(sha256sum /etc/shadow 2>/dev/null | cut -d' ' -f1)
# The agent's device root: by default the test's own, with /dev/nvidia* as harmless
# stand-ins (clones of /dev/null); GPF_HOSTILE_DEVROOT=/ uses the host's real /dev.
DEVROOT=${GPF_HOSTILE_DEVROOT:-$T/devroot}
if [ "$DEVROOT" = "$T/devroot" ]; then
  mkdir -p "$T/devroot/dev"
  for n in 0 1 2 3 4 5 6 7 ctl -uvm -uvm-tools; do
    mknod -m 0666 "$T/devroot/dev/nvidia$n" c 1 3 2>/dev/null || : >"$T/devroot/dev/nvidia$n"
  done
fi
DEVROOT=${DEVROOT%/}
# A host process of the test's own: the only thing ptrace and kill -0 are aimed at.
# (its number, like alice's and bob's below, is this run's own: processes are looked for by it)
HNUM=$(( 20000 + $(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % 900000000 ))
env GPF_HOSTILE_ENV="$TAG" sleep "$HNUM.5" & HSLEEP=$!; PIDS+=("$HSLEEP"); disown "$HSLEEP"
"$T/gpf-attack" listen-abstract "gpfh-$TAG" 900 >/dev/null 2>&1 & PIDS+=("$!"); disown "$!"
SNIFF_TOKEN="gpf_sniff_$TAG"
BOB_NEEDLE="bob-traffic-$TAG"
HOST_ADDRS=$(ip -o addr show scope global 2>/dev/null | awk '{ sub("/.*", "", $4); print $4 }' | tr '\n' ' ')

# The agent unpacks a pod's image on first use (seconds) before it beats again: the
# control plane waits 20 s, not 2.5, before it calls the host lost.
start_serve "$T/cp" --lost-after-beats 40 || exit 1
ADMIN=$(admin_token "$T/cp")
CP_PORT=${URL##*:}
"$G" login --server "$URL" --token "$ADMIN" >/dev/null 2>"$T/login.err"
if [ "$RUNTIME" = oci ]; then
  [ $ROOT = 1 ] || skip_or_fail "not root"
  command -v runc >/dev/null 2>&1 || skip_or_fail "no runc"
  # The pod image: GPF_HOSTILE_IMAGE (an OCI layout), else the project's default image
  # (scripts/build-image.sh: cached after its first build).
  IMG=${GPF_HOSTILE_IMAGE:-$(bash "$HERE/../../scripts/build-image.sh" 2>"$T/image.log")}
  [ -n "$IMG" ] || skip_or_fail "no pod image: $(tail -1 "$T/image.log")"
  "$G" image import "$IMG" --name default >"$T/image.log" 2>&1 || skip_or_fail "image import: $(tail -1 "$T/image.log")"
fi
# shellcheck disable=SC2086
if ! start_agent "$HOSTID" "$RUNTIME" --dev-root "${DEVROOT:-/}" ${GPF_HOSTILE_AGENT_FLAGS:-} >"$T/agent-start.log" 2>&1; then
  # Only the agent refusing the runtime itself is a reason to skip; any other failure is one.
  if [ "$RUNTIME" = oci ] && ! kill -0 "$AGENT_PID" 2>/dev/null &&
     tail -3 "$T/agent-$HOSTID.out" | grep -qiE 'oci|runc|runtime|slirp|uid|root|image|namespace'; then
    skip_or_fail "the agent refuses it: $(tail -2 "$T/agent-$HOSTID.out" | tr '\n' ' ')"
  fi
  cat "$T/agent-start.log"; bad "the agent starts with the $RUNTIME runtime"; finish; exit 1
fi
ok "the agent runs pods with the $RUNTIME runtime"
AGENT_DIR=$T/agent-$HOSTID
STATE_DIR_HINTS="$T/cp $AGENT_DIR"

SKU_FLAGS=(); [ "$RUNTIME" = oci ] || SKU_FLAGS=(--min-isolation soft) # what the process runtime gives
# shellcheck disable=SC2086
check "admin creates a one-GPU SKU" "$G" sku create --name whole1 --kind whole --gpus 1 --model H100-80GB \
  --cpus 2 --memory-mib 2048 "${SKU_FLAGS[@]}" ${GPF_HOSTILE_SKU_FLAGS:-}
for u in alice bob; do
  mkdir -p "$T/$u"
  ssh-keygen -q -t ed25519 -N '' -C "$u" -f "$T/$u/id_ed25519"
  "$G" user create "$u" --role member --ssh-key "$T/$u/id_ed25519.pub" >/dev/null 2>>"$T/login.err"
  tok=$("$G" token create --user "$u" --json | json_get .token)
  GPUFLEET_CONFIG="$T/$u/config.json" "$G" login --server "$URL" --token "$tok" \
      --ssh-key "$T/$u/id_ed25519.pub" >/dev/null 2>>"$T/login.err"
done
A() { GPUFLEET_CONFIG="$T/alice/config.json" "$G" "$@"; }
B() { GPUFLEET_CONFIG="$T/bob/config.json" "$G" "$@"; }
AS() { A ssh "$APOD" -- "$@" 2>>"$T/ssh.err" </dev/null; }
BS() { B ssh "$BPOD" -- "$@" 2>>"$T/ssh.err" </dev/null; }
AS_IN() { A ssh "$APOD" -- "$@" 2>>"$T/ssh.err"; } # with the caller's stdin

echo "[pods] alice and bob each launch a pod on $HOSTID"
APOD=$(A pod launch whole1 --quiet --timeout-s 120 2>"$T/launch-a.err")
BPOD=$(B pod launch whole1 --quiet --timeout-s 120 2>"$T/launch-b.err")
if ! [[ "$APOD" =~ ^pod- && "$BPOD" =~ ^pod- ]]; then
  bad "both pods launch: $(cat "$T/launch-a.err" "$T/launch-b.err" | tr '\n' ' ')"
  tail -5 "$AGENT_DIR.out" 2>/dev/null; finish; exit 1
fi
ok "alice's and bob's pods run ($APOD, $BPOD)"
aj=$(A pod show "$APOD" --json); bj=$(B pod show "$BPOD" --json)
APORT=$(echo "$aj" | json_get .ssh.port); BPORT=$(echo "$bj" | json_get .ssh.port)
AIDX=$(echo "$aj" | json_get '.placement.gpu_indexes[0]'); BIDX=$(echo "$bj" | json_get '.placement.gpu_indexes[0]')
ISO=$(echo "$aj" | json_get .isolation)
AGENT_STATE=$AGENT_DIR/pods/$APOD/state
SANDBOX=none # the process runtime's: bubblewrap or none (its state file's message says)
grep -q '^message=bwrap sandbox' "$AGENT_STATE" 2>/dev/null && SANDBOX=bwrap
echo "  alice: port $APORT, GPU $AIDX, isolation $ISO; bob: port $BPORT, GPU $BIDX"
[ "$RUNTIME" = process ] && echo "  process runtime sandbox: $SANDBOX ($(sed -n 's/^message=//p' "$AGENT_STATE" | cut -c1-100))"
expect_eq "alice runs a command in her pod" ok "$(AS 'echo ok')"
AUSER=$(AS 'id -un'); AUID=$(AS 'id -u')
SUDO=0
if [ "$AUID" = 0 ]; then note "alice logs in as root ($AUSER): one run covers user and root"
elif AS 'sudo -n true' >/dev/null 2>&1; then SUDO=1; fi

if [ "$RUNTIME" = oci ]; then
  echo "[oci] what the pod is"
  expect_eq "alice logs in as her own user name" alice "$AUSER"
  if [ "$AUID" != 0 ]; then ok "alice's login user is not root in the pod (uid $AUID)"; else bad "alice's login user is not root in the pod"; fi
  expect_eq "alice has passwordless sudo to pod root (by design)" 1 "$SUDO"
  expect_eq "the pod runs the image's OS (/etc/os-release ID)" "$IMAGE_OS_ID" "$(AS '. /etc/os-release; echo $ID')"
  if [ -e "$DEVROOT/dev/nvidia$AIDX" ]; then
    check "alice opens her own GPU node /dev/nvidia$AIDX" AS "test -e /dev/nvidia$AIDX && : </dev/nvidia$AIDX"
  else skip own_gpu_node "no $DEVROOT/dev/nvidia$AIDX on this host: alice's own GPU node is not looked at"; fi
  # The fake backend brings a CDI spec of its own: the GPU comes in per CDI, as on a real host.
  expect_eq "the GPU is injected per CDI: the spec's environment" 1 "$(AS 'echo $NVIDIA_CDI_FAKE')"
  expect_match "... and the spec's driver library mount" "stand-in" "$(AS 'cat /usr/lib/x86_64-linux-gnu/libcuda.so.1')"
  expect_match "... and the pod says so" "devices per CDI" "$(A pod show "$APOD" --json | json_get .reason)"
  # Its root process's output is a file on the host: flooding it fills the pod's own 1 MiB, not the host's disk.
  AS 'sudo -n dd if=/dev/zero of=/proc/1/fd/2 bs=1M count=8 2>/dev/null; true' >/dev/null 2>&1
  alog=$(find "$AGENT_DIR" -path "*/$APOD/log.d/log" 2>/dev/null | head -1)
  asz=$(stat -c %s "$alog" 2>/dev/null || echo missing)
  if [ "$asz" != missing ] && [ "$asz" -le 1048576 ]; then ok "a pod flooding its log fills 1 MiB at most ($asz bytes)"
  else bad "a pod flooding its log fills 1 MiB at most ($asz)"; fi
  expect_eq "the log lives on a 1 MiB tmpfs of the pod's own" "tmpfs 1048576" \
    "$(df -B1 --output=fstype,size "$(dirname "$alog")" 2>/dev/null | tail -1 | tr -s ' ' | sed 's/^ //')"
  ka=$(ssh-keyscan -t ed25519 -p "$APORT" 127.0.0.1 2>/dev/null | awk '{ print $3 }')
  kb=$(ssh-keyscan -t ed25519 -p "$BPORT" 127.0.0.1 2>/dev/null | awk '{ print $3 }')
  if [ -n "$ka" ] && [ "$ka" != "$kb" ]; then ok "each pod has its own host key"; else bad "each pod has its own host key"; fi
fi

# ---- bob's life in his pod: a file, a process, some traffic ---------------------------
BNUM=$(( HNUM + 1000 ))
BS "echo bob-secret-$TAG > \$HOME/gpfh-bob-$TAG; nohup env GPF_HOSTILE_ENV=$TAG sleep $BNUM.5 >/dev/null 2>&1 &
    nohup bash -c 'for i in \$(seq 900); do printf %s $BOB_NEEDLE >/dev/udp/127.0.0.1/9 2>/dev/null; sleep 0.1; done' >/dev/null 2>&1 &" >/dev/null
wait_for 20 pgrep -fx "sleep $BNUM.5"
BSLEEP=$(pgrep -fx "sleep $BNUM.5" | head -1)
check "bob reads his own file in his pod" BS "grep -q bob-secret-$TAG \$HOME/gpfh-bob-$TAG"
BFILE=$(find "$AGENT_DIR" -name "gpfh-bob-$TAG" -path '*home*' 2>/dev/null | head -1)
OTHER_POD_FILE_SHA=$(sha256sum "$BFILE" 2>/dev/null | cut -d' ' -f1)
[ -n "$BFILE" ] || bad "bob's file is found on the host (under $AGENT_DIR)"
# bob's private host key(s) as files on the host: those whose public key bob's sshd shows.
kb=$(ssh-keyscan -t ed25519 -p "$BPORT" 127.0.0.1 2>/dev/null | awk '{ print $3 }')
OTHER_HOST_KEY_SHAS=""
while read -r f; do
  [ -n "$kb" ] && [ "$(ssh-keygen -y -f "$f" 2>/dev/null | awk '{ print $2 }')" = "$kb" ] &&
    OTHER_HOST_KEY_SHAS="$OTHER_HOST_KEY_SHAS $(sha256sum "$f" | cut -d' ' -f1)"
done < <(find "$AGENT_DIR" -name 'ssh_host_*_key' -type f 2>/dev/null)
[ -n "$OTHER_HOST_KEY_SHAS" ] || note "bob's private host key is not a file under $AGENT_DIR: host_key looks for any key"

OTHER_DEV="/dev/nvidia$BIDX"; [ -n "$DEVROOT" ] && OTHER_DEV="$OTHER_DEV $DEVROOT/dev/nvidia$BIDX"
# The battery's parameters, as a file the runs source.
write_env() { # FILE RUN-LABEL HELPER-PATH
  {
    printf 'export %s=%q\n' ATTACK_TAG "$TAG" ATTACK_RUN "$2" ATTACK_HELPER "$3" \
      CP_PORT "$CP_PORT" OTHER_SSH_PORT "$BPORT" HOST_ADDRS "$HOST_ADDRS" \
      HOST_MARKER "$HOST_MARKER" HOST_MARKER_SHA "$HOST_MARKER_SHA" HOST_SHADOW_SHA "$HOST_SHADOW_SHA" \
      STATE_DIR_HINTS "$STATE_DIR_HINTS" AGENT_STATE "$AGENT_STATE" \
      OTHER_DEV "$OTHER_DEV" \
      HOST_PIDS "$HSLEEP:$HNUM.5${BSLEEP:+ $BSLEEP:$BNUM.5}" HOST_ENV_TAG "GPF_HOSTILE_ENV=$TAG" \
      HOST_PROC_ARGS "$T/cp $AGENT_DIR $HNUM.5 $BNUM.5" \
      OTHER_HOST_KEY_SHAS "$OTHER_HOST_KEY_SHAS" \
      OTHER_POD_FILES "/home/bob/gpfh-bob-$TAG $BFILE" OTHER_POD_FILE_SHA "$OTHER_POD_FILE_SHA" \
      ABSTRACT_NAME "gpfh-$TAG" SNIFF_NEEDLES "$SNIFF_TOKEN $BOB_NEEDLE"
  } >"$1"
}
# Someone's API traffic with a bearer token on the host's loopback while the battery runs.
traffic_on() {
  ( for _ in $(seq 1200); do
      curl -s -m 1 -o /dev/null -H "Authorization: Bearer $SNIFF_TOKEN" "$URL/v1/pods"; sleep 0.05
    done ) >/dev/null 2>&1 &
  TRAFFIC=$!; PIDS+=("$TRAFFIC"); disown "$TRAFFIC"
}
traffic_off() { kill "$TRAFFIC" 2>/dev/null; }

# result FILE NAME: the attack's verdict in a run's output (blocked, SUCCEEDED, untested,
# or missing / repeated when the battery did not say it exactly once).
result() {
  local n; n=$(grep -c "^ATTACK $2 " "$1")
  if [ "$n" = 0 ]; then echo missing; elif [ "$n" != 1 ]; then echo repeated; else
    awk -v a="$2" '$1 == "ATTACK" && $2 == a { print $3; exit }' "$1"; fi
}
detail() { grep -m1 "^ATTACK $2 " "$1" | cut -d' ' -f4- | cut -c1-300; }

# Host-side traces: markers in the host's directories, setuid files of host root.
markers_on_host() {
  local d
  for d in /tmp /var/tmp /root /dev/shm $STATE_DIR_HINTS "$T"; do
    find "$d" -maxdepth 1 -name "gpf-attack-marker-$TAG-$1" 2>/dev/null
  done | sort -u
}
suid_root_on_host() {
  { find /tmp "${HOME:-/root}" -maxdepth 1 -name "gpf-attack-suid-$TAG-$1" -user 0 -perm -4000 2>/dev/null
    find "$AGENT_DIR" -name "gpf-attack-suid-$TAG-$1" -user 0 -perm -4000 2>/dev/null; } | sort -u
}
sysctls() { echo "$(cat /proc/sys/kernel/domainname 2>/dev/null)|$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null)"; }
# The cgroup directories of alice's pod as the host sees them (those of its root process).
pod_cgroups() {
  local pid ctl path c
  pid=$(sed -n 's/^pid=//p' "$AGENT_STATE" 2>/dev/null | head -1)
  [ -n "$pid" ] && [ -r "/proc/$pid/cgroup" ] || return
  while IFS=: read -r _ ctl path; do
    if [ -z "$ctl" ]; then for c in /sys/fs/cgroup /sys/fs/cgroup/unified; do [ -f "$c$path/cgroup.procs" ] && echo "$c$path"; done
    else c=${ctl#name=}; [ -d "/sys/fs/cgroup/$c$path" ] && echo "/sys/fs/cgroup/$c$path"; fi
  done <"/proc/$pid/cgroup" | awk '!seen[$0]++'
}
# The pod's cgroup limits as the host reads them.
pod_limits() {
  local cg f
  for cg in $(pod_cgroups); do
    for f in memory.max memory.limit_in_bytes cpu.max cpu.cfs_quota_us cpuset.cpus pids.max; do
      [ -f "$cg/$f" ] && echo "$cg/$f=$(cat "$cg/$f" 2>/dev/null)"
    done
  done
}
SYSCTLS0=$(sysctls)

# ---- calibration: the battery as host root, outside any pod ---------------------------
capeff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
has_cap() { (( (16#$capeff >> $1) & 1 )); }
mount_ro() { awk -v m="$1" '$5 == m { o = $6 } END { exit !(o ~ /(^|,)ro(,|$)/) }' /proc/self/mountinfo; }
# Why this machine cannot show attack $1 working even for host root ("" when it can).
host_na() {
  local why=""
  case "$1" in
    raw_socket|sniff) has_cap 13 || why="runner lacks CAP_NET_RAW" ;;
    mount|cgroup_escape|setns_host) has_cap 21 || why="runner lacks CAP_SYS_ADMIN" ;;
    mknod) has_cap 27 || why="runner lacks CAP_MKNOD" ;;
    ptrace) has_cap 19 || why="runner lacks CAP_SYS_PTRACE" ;;
    kernel_log) has_cap 34 || why="runner lacks CAP_SYSLOG" ;;
    open_by_handle) has_cap 2 || why="runner lacks CAP_DAC_READ_SEARCH" ;;
    kmod) if ! has_cap 16; then why="runner lacks CAP_SYS_MODULE"
          elif [ ! -e /proc/sys/kernel/modules_disabled ]; then why="kernel built without module support"
          elif [ "$(cat /proc/sys/kernel/modules_disabled)" != 0 ]; then why="module loading disabled"; fi ;;
    perf_events) [ -e /proc/sys/kernel/perf_event_paranoid ] || why="kernel without perf events" ;;
    bpf) [ -e /proc/sys/kernel/unprivileged_bpf_disabled ] || why="kernel without the bpf syscall" ;;
    keyctl) [ -d /proc/sys/kernel/keys ] || why="kernel without keys" ;;
    userns) [ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 0)" -gt 0 ] || why="user namespaces disabled" ;;
    sysrq) [ -e /proc/sysrq-trigger ] || why="kernel without magic SysRq" ;;
    compat_abi) if [ "$(uname -m)" != x86_64 ]; then why="no 32-bit entry path on $(uname -m)"
                elif grep -qw 'ia32_emulation=0' /proc/cmdline; then why="kernel booted without 32-bit emulation"; fi ;;
    other_gpu_dev) local d can=0
      for d in $OTHER_DEV; do [ -e "$d" ] && can=1; done
      [ $can = 1 ] || why="no device node of another GPU on this host ($OTHER_DEV)" ;;
    sysctl) mount_ro /proc/sys && why="/proc/sys is read-only for the runner" ;;
    sysfs_write) mount_ro /sys && why="/sys is read-only for the runner" ;;
    cgroup_write) mount_ro /sys/fs/cgroup && why="/sys/fs/cgroup is read-only for the runner" ;;
    host_devices) local d can=0
      for d in /proc/kcore /dev/mem $(awk 'NR > 2 && $4 ~ /^((sd|vd|xvd|hd)[a-z]+|nvme[0-9]+n[0-9]+|mmcblk[0-9]+)$/ { print "/dev/" $4 }' /proc/partitions); do
        head -c 1 "$d" >/dev/null 2>&1 && can=1
      done
      [ $can = 1 ] || why="the runner cannot read /proc/kcore, /dev/mem or a disk either" ;;
  esac
  if [ -z "$why" ] && [ "$(awk '/^Seccomp:/ { print $2 }' /proc/self/status)" != 0 ]; then
    case "$1" in keyctl|bpf|perf_events|kernel_log|userns|kmod|open_by_handle|mount|cgroup_escape|setns_host|mknod|compat_abi)
      why="the runner runs under a seccomp filter" ;; esac
  fi
  echo "$why"
}

CALIBRATED=" "
if [ "$CALIBRATE" = host ]; then
  echo "[calibration] the battery as host root, outside any pod: every attack must work"
  if [ $ROOT != 1 ]; then bad "host calibration needs root"; else
    write_env "$T/env-host" host "$T/gpf-attack"
    traffic_on
    bash "$HERE/attacks.sh" "$T/env-host" >"$T/run-host.out" 2>&1
    traffic_off
    for a in "${ATTACK_NAMES[@]}"; do
      r=$(result "$T/run-host.out" "$a"); why=$(host_na "$a")
      if [ "$r" = SUCCEEDED ]; then ok "calibration (host): $a works unsandboxed"; CALIBRATED="$CALIBRATED$a "
      elif [ -n "$why" ]; then skip "calibration.$a" "the host cannot show it working: $why (got: $r)"
      else bad "calibration (host): $a works unsandboxed (got: $r $(detail "$T/run-host.out" "$a"))"; fi
    done
    m=$(markers_on_host host)
    if echo "$m" | grep -q "^/tmp/" && echo "$m" | grep -q "^$T/"; then ok "calibration (host): the host-side marker check sees its markers"
    else bad "calibration (host): the host-side marker check sees its markers (found: $m)"; fi
    if [ -n "$(suid_root_on_host host)" ]; then ok "calibration (host): the setuid-root check sees its file"
    else bad "calibration (host): the setuid-root check sees its file"; fi
    expect_eq "calibration (host): the domainname was set back" "$SYSCTLS0" "$(sysctls)"
    remove_markers
  fi
fi

# ---- alice's runs ---------------------------------------------------------------------
echo "[attack] alice runs the battery in her pod ($( [ $SUDO = 1 ] && echo "as alice and as pod root" || echo "as $AUSER"))"
write_env "$T/env-user" user "$PD/gpf-attack"
write_env "$T/env-root" root "$PD/gpf-attack"
AS_IN "mkdir -p $PD && chmod 0755 $PD && cat >$PD/a.sh" <"$HERE/attacks.sh"
AS_IN "cat >$PD/gpf-attack && chmod 0755 $PD/gpf-attack" <"$T/gpf-attack"
AS_IN "cat >$PD/env-user" <"$T/env-user"
AS_IN "cat >$PD/env-root" <"$T/env-root"
check "the battery is in alice's pod" AS "test -x $PD/gpf-attack && test -s $PD/a.sh"
ANUM=$(( HNUM + 2000 ))
AS "nohup sleep $ANUM.5 >/dev/null 2>&1 &" >/dev/null
[ $SUDO = 1 ] && AS "sudo -n nohup sleep $ANUM.7 >/dev/null 2>&1 &" >/dev/null
LIMITS0=$(pod_limits)
[ -n "$LIMITS0" ] || note "the host finds no cgroup limits of alice's pod (pid= of its state file)"
if [ "$RUNTIME" = oci ]; then
  expect_match "alice's pod has its memory limit (2048 MiB) in force" "(memory.max|memory.limit_in_bytes)=2147483648$" "$LIMITS0"
  expect_match "alice's pod has a process limit in force" "pids.max=[0-9]+$" "$LIMITS0"
fi
RUNS=(user)
traffic_on
AS "bash $PD/a.sh $PD/env-user" >"$T/run-user.out" 2>&1
if [ $SUDO = 1 ]; then AS "sudo -n bash $PD/a.sh $PD/env-root" >"$T/run-root.out" 2>&1; RUNS+=(root); fi
traffic_off

echo "[verdicts] $RUNTIME runtime, expecting attacks to be ${EXPECT/succeed/succeed (calibration)}"
if [ "$EXPECT" = succeed ]; then
  # What an unprotected process runtime is known to let through: everything but what its
  # bubblewrap sandbox (pid namespace, private /dev, no CAP_MKNOD/SYS_ADMIN) stops, and,
  # for a login user that is not root, what only root could do.
  proot=0; [ "$AUID" = 0 ] || [ $SUDO = 1 ] && proot=1
  for a in "${ATTACK_NAMES[@]}"; do
    why=""
    case "$a" in
      host_procs|ptrace|setns_host|mount|cgroup_escape|mknod|host_devices|other_gpu_dev)
        # bwrap: own pid namespace and /dev, binds mounted nodev, no CAP_MKNOD/SYS_ADMIN
        [ "$SANDBOX" = none ] || why="stopped by the process runtime's bubblewrap sandbox" ;;
    esac
    case "$a" in
      read_host_file|write_host_fs|state_dirs|forge_agent_state|host_key|other_pod_files|reach_cp|reach_other_pod|abstract_socket|other_gpu_dev|host_procs) ;;
      *) [ $proot = 1 ] || why="${why:-needs root in the pod}" ;;
    esac
    [ -z "$why" ] && why=$(host_na "$a")
    got=""; for r in "${RUNS[@]}"; do got="$got $r:$(result "$T/run-$r.out" "$a")"; done
    if [ -n "$why" ]; then note "$a: not asserted ($why); got$got"
    elif [[ "$got" == *SUCCEEDED* ]]; then ok "calibration ($RUNTIME): $a works against the unprotected pod"; CALIBRATED="$CALIBRATED$a "
    else bad "calibration ($RUNTIME): $a works against the unprotected pod (got$got $(detail "$T/run-user.out" "$a"))"; fi
  done
else
  for r in "${RUNS[@]}"; do
    for a in "${ATTACK_NAMES[@]}"; do
      v=$(result "$T/run-$r.out" "$a")
      if [ "$v" = blocked ]; then ok "[$r] $a blocked"
      else bad "[$r] $a blocked (got: $v $(detail "$T/run-$r.out" "$a"))"; fi
    done
  done
fi

echo "[isolation] alice and bob, seen from each pod"
cat_alice_home="cat /home/alice/gpfh-alice-$TAG"
AS "echo alice-secret-$TAG > \$HOME/gpfh-alice-$TAG" >/dev/null
# (a regex, "N[.]5", so that grep's own command line does not match)
sees_bob_proc=$(AS "grep -lzx '${BNUM}[.]5' /proc/[0-9]*/cmdline 2>/dev/null | head -1")
sees_own_proc=$(AS "grep -lzx '${ANUM}[.]5' /proc/[0-9]*/cmdline 2>/dev/null | head -1")
AFILE=$(find "$AGENT_DIR" -name "gpfh-alice-$TAG" -path '*home*' 2>/dev/null | head -1)
bob_reads=$(BS "$cat_alice_home 2>/dev/null; cat ${AFILE:-/nonexistent} 2>/dev/null")
alice_reads=$(AS "cat /home/bob/gpfh-bob-$TAG $BFILE 2>/dev/null")
if [ "$EXPECT" = succeed ]; then
  [ -n "$sees_bob_proc" ] && ok "calibration: alice sees bob's process" || note "alice does not see bob's process"
  [[ "$bob_reads$alice_reads" == *secret-$TAG* ]] && ok "calibration: a pod reads the other's home" || note "no pod reads the other's home"
else
  [ -n "$sees_own_proc" ] && ok "alice sees her own process (the look works)" || bad "alice sees her own process (the look works)"
  [ -z "$sees_bob_proc" ] && ok "alice does not see bob's processes" || bad "alice does not see bob's processes ($sees_bob_proc)"
  [[ "$alice_reads" != *bob-secret-$TAG* ]] && ok "alice cannot read bob's home" || bad "alice cannot read bob's home"
  [[ "$bob_reads" != *alice-secret-$TAG* ]] && ok "bob cannot read alice's home" || bad "bob cannot read alice's home"
  [[ "$(AS 'ls -A /home 2>/dev/null')" != *bob* ]] && ok "alice's /home does not list bob" || bad "alice's /home does not list bob"
fi

echo "[host] what the host shows afterwards"
ALICE_HOST_UIDS=$(for n in $ANUM.5 $ANUM.7; do pgrep -fx "sleep $n" | xargs -r ps -o uid= -p; done | tr -s ' \n' ' ')
SUIDS=$(for r in "${RUNS[@]}"; do suid_root_on_host "$r"; done)
MARKS=$(for r in "${RUNS[@]}"; do markers_on_host "$r"; done)
if [ "$EXPECT" = succeed ]; then
  [ -n "$MARKS" ] && ok "calibration: the pod left markers on the host" || bad "calibration: the pod left markers on the host"
  if [ "$AUID" = 0 ] || [ $SUDO = 1 ]; then
    [[ " $ALICE_HOST_UIDS " == *" 0 "* ]] && ok "calibration: pod root is host root" || bad "calibration: pod root is host root (uids:$ALICE_HOST_UIDS)"
    [ -n "$SUIDS" ] && ok "calibration: pod root planted a setuid-root file on the host" || bad "calibration: pod root planted a setuid-root file on the host"
  fi
else
  expect_eq "no marker file reached the host" "" "$MARKS"
  expect_eq "no setuid-root file reached the host" "" "$SUIDS"
  if [ -n "${ALICE_HOST_UIDS// /}" ] && [[ " $ALICE_HOST_UIDS " != *" 0 "* ]]; then
    ok "alice's pod processes (root included) run as unprivileged host uids ($ALICE_HOST_UIDS)"
  else bad "alice's pod processes (root included) run as unprivileged host uids (uids:$ALICE_HOST_UIDS)"; fi
fi
expect_eq "the pod's cgroup limits are unchanged" "$LIMITS0" "$(pod_limits)"
expect_eq "the host's domainname and ip_forward are unchanged" "$SYSCTLS0" "$(sysctls)"
check "the control plane is still healthy" curl -sf "$URL/healthz"
# Their slirp4netns (oci), to see them go with the pods; a zombie awaiting its reaper is gone.
SLIRPS=$(sed -n 's/^slirp=//p' "$AGENT_DIR/pods/$APOD/state" "$AGENT_DIR/pods/$BPOD/state" 2>/dev/null | tr '\n' ' ')
live_pids() { for p in "$@"; do [ "$p" -gt 1 ] 2>/dev/null || continue; s=$(ps -o stat= -p "$p" | cut -c1); [ -n "$s" ] && [ "$s" != Z ] && echo "$p"; done; }
check "alice stops her pod" A pod stop "$APOD"
check "bob stops his pod" B pod stop "$BPOD"
stopped() { [ "$(A pod show "$APOD" --json | json_get .state)" = stopped ] && [ "$(B pod show "$BPOD" --json | json_get .state)" = stopped ]; }
check "both pods reach stopped" wait_for 30 stopped
STOPPED=1
if [ "$RUNTIME" = oci ]; then
  expect_eq "nothing of the pods stays mounted on the host" 0 "$(grep -cE "$AGENT_DIR/pods/($APOD|$BPOD)" /proc/self/mountinfo)"
  expect_match "each pod had its slirp4netns" '^[0-9]+ [0-9]+ $' "$SLIRPS"
  # shellcheck disable=SC2086
  expect_eq "no slirp4netns of theirs is left running" "" "$(live_pids $SLIRPS)"
fi

n=0; for a in "${ATTACK_NAMES[@]}"; do [[ "$CALIBRATED" == *" $a "* ]] && n=$((n + 1)); done
echo "  calibrated: $n of ${#ATTACK_NAMES[@]} attacks shown to work unsandboxed in this run$(
  for a in "${ATTACK_NAMES[@]}"; do [[ "$CALIBRATED" == *" $a "* ]] || printf ' [not: %s]' "$a"; done)"
[ -n "${GPF_HOSTILE_LOG_DIR:-}" ] && mkdir -p "$GPF_HOSTILE_LOG_DIR" && cp "$T"/run-*.out "$GPF_HOSTILE_LOG_DIR"/ 2>/dev/null
finish
