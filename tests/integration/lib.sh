# Shared helpers for integration tests: start a real control plane and agents on
# loopback in a temporary directory, assertions, skips, and a closing summary line
# ("NAME: N passed, N failed, N skipped", which tests/run.sh reads).
# Usage: source lib.sh; ...; finish
set -u
GPF_BIN=${GPF_BIN:-build/gpufleet}
GPF_BIN=$(readlink -f "$GPF_BIN")
T=$(mktemp -d /tmp/gpufleet-it.XXXXXX)
chmod 0711 "$T" # oci pods (unprivileged uids of their own) must reach their bundles below it
PASS=0
FAIL=0
SKIP=0
PIDS=()
JOIN="gpfjoin_test_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
# A port window for pods' sshd that other concurrent runs are unlikely to share.
PORT_BASE=$(( 30000 + (RANDOM % 300) * 100 ))
export GPUFLEET_CONFIG="$T/admin/config.json"

cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  # Pods outlive agents by design: stop whatever sshd this test started.
  for d in "$T"/agent-*; do
    [ -d "$d/pods" ] || continue
    for pf in "$d"/pods/*/state; do
      [ -f "$pf" ] || continue
      pid=$(sed -n 's/^pid=//p' "$pf" 2>/dev/null | head -1)
      [ -n "$pid" ] && [ "$pid" -gt 1 ] 2>/dev/null && kill -9 -- "-$pid" "$pid" 2>/dev/null
      slirp=$(sed -n 's/^slirp=//p' "$pf" 2>/dev/null | head -1)
      [ -n "$slirp" ] && [ "$slirp" -gt 1 ] 2>/dev/null && kill -9 "$slirp" 2>/dev/null
    done
    # oci pods: the container (runc's own record), then the pod's root and image mounts
    for pd in "$d"/pods/*/; do
      [ -d "$pd" ] || continue
      id=$(basename "$pd")
      command -v runc >/dev/null && runc --root /run/gpufleet/runc delete --force "gpf-$id" >/dev/null 2>&1
      for m in rootfs lower; do umount -l "$pd$m" 2>/dev/null; umount -l "$pd$m" 2>/dev/null; done
    done
  done
  pkill -9 -f "$T/" 2>/dev/null
  # ... and their cgroups (directories joined with ':'), once their members are gone.
  for pf in "$T"/agent-*/pods/*/state; do
    [ -f "$pf" ] || continue
    sed -n 's/^cgroup=//p' "$pf" | tr ':' '\n' | while read -r cg; do
      [ -d "$cg" ] && { rmdir "$cg" 2>/dev/null || { sleep 0.2; rmdir "$cg" 2>/dev/null; }; }
    done
  done
  # Never delete through a mount that is still there (a pod's root over the image cache).
  if grep -q " $T/" /proc/self/mounts 2>/dev/null; then
    grep " $T/" /proc/self/mounts | cut -d' ' -f2 | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  fi
  if [ "${KEEP_TMP:-0}" != 1 ]; then rm -rf "$T"; else echo "kept $T"; fi
}
trap cleanup EXIT

ok()   { PASS=$((PASS+1)); echo "  ok   - $*"; }
bad()  { FAIL=$((FAIL+1)); echo "  FAIL - $*"; }
# skip NAME WHY...: what this machine cannot check, said and counted, never left out
# silently. NAME (one word) is how tests/expected-skips lists it: SCRIPT.sh:NAME.
skip() { local n=$1; shift; SKIP=$((SKIP+1)); echo "  skip - $n: $*"; }
check() { # check "description" command...
  local d=$1; shift
  if "$@" >/dev/null 2>&1; then ok "$d"; else bad "$d"; fi
}
expect_eq() { # expect_eq "description" expected actual
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (expected '$2', got '$3')"; fi
}
expect_match() { # expect_match "description" regex actual
  if printf '%s' "$3" | grep -Eq -- "$2"; then ok "$1"; else bad "$1 (no match for /$2/ in '$3')"; fi
}
finish() {
  echo "$(basename "$0"): $PASS passed, $FAIL failed, $SKIP skipped"
  [ "$FAIL" -eq 0 ]
}

# start_serve STATE_DIR [extra flags]: starts the control plane on $SERVE_LISTEN (default: a
# free port); sets URL and SERVE_PID.
start_serve() {
  local sd=$1; shift
  mkdir -p "$sd"
  rm -f "$sd/serve.url"
  "$GPF_BIN" serve --listen "${SERVE_LISTEN:-127.0.0.1:0}" --state-dir "$sd" --join-token "$JOIN" \
      --heartbeat-ms 500 --log-level "${GPF_LOG_LEVEL:-warn}" "$@" >>"$sd/serve.out" 2>>"$sd/serve.err" &
  SERVE_PID=$!
  PIDS+=("$SERVE_PID")
  disown "$SERVE_PID"
  for _ in $(seq 200); do [ -s "$sd/serve.url" ] && break; sleep 0.05; done
  URL=$(cat "$sd/serve.url" 2>/dev/null)
  [ -n "$URL" ] || { echo "serve did not start:"; cat "$sd/serve.err"; return 1; }
  for _ in $(seq 100); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.05; done
}

# start_agent HOST_ID [runtime [agent flags...]]: starts an agent for a host of the built-in
# demo fleet; sets AGENT_PID.
start_agent() {
  local host=$1 rt=${2:-process}
  shift; [ $# -gt 0 ] && shift
  local n=${#PIDS[@]}
  "$GPF_BIN" agent --server "$URL" --join-token "$JOIN" --host-id "$host" --state-dir "$T/agent-$host" \
      --runtime "$rt" --ssh-port-min $((PORT_BASE + n * 10)) --ssh-port-max $((PORT_BASE + n * 10 + 9)) \
      --log-level "${GPF_LOG_LEVEL:-warn}" "$@" >>"$T/agent-$host.out" 2>&1 &
  AGENT_PID=$!
  PIDS+=("$!")
  disown "$!"
  for _ in $(seq 600); do # 30 s at most: an agent under a sanitizer on a busy machine starts slowly
    curl -sf -H "Authorization: Bearer $ADMIN" "$URL/v1/hosts" 2>/dev/null | grep -q "\"$host\"" && return 0
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "agent $host did not register:"; cat "$T/agent-$host.out"; return 1
}

# import_default_image: imports the default pod image (scripts/build-image.sh, built by
# `make image`; built here when missing) as image "default" on the control plane.
import_default_image() {
  local dir
  dir=$(bash "$(dirname "${BASH_SOURCE[0]}")/../../scripts/build-image.sh" 2>>"$T/build-image.err" | tail -1)
  [ -f "$dir/index.json" ] || { echo "no default image: $(tail -3 "$T/build-image.err")"; return 1; }
  "$GPF_BIN" image import "$dir" --name default >/dev/null
}

# oci_available: 0 when this machine can run the oci runtime (root, runc, slirp4netns);
# otherwise prints why.
oci_available() {
  [ "$(id -u)" = 0 ] || { echo "not root"; return 1; }
  command -v runc >/dev/null || { echo "no runc"; return 1; }
  command -v slirp4netns >/dev/null || { echo "no slirp4netns"; return 1; }
}

# kill9 PID: SIGKILL and wait until it is gone.
kill9() {
  kill -9 "$1" 2>/dev/null
  for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.01; done
}

admin_token() { sed -n 's/^admin token[^:]*: //p' "$1/serve.out" | head -1; }

# api METHOD PATH [BODY] [TOKEN]: prints "STATUS BODY"
api() {
  local m=$1 p=$2 body=${3:-} tok=${4:-$ADMIN}
  local args=(-s -o "$T/api.body" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $tok")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  local code; code=$(curl "${args[@]}" "$URL$p")
  echo "$code $(cat "$T/api.body")"
}

json_get() { jq -r "$1"; } # json_get JQ-FILTER < json

# wait_for SECONDS COMMAND...: polls (every 0.1 s) until COMMAND succeeds; 1 on timeout.
wait_for() {
  local n=$(( $1 * 10 )); shift
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# last_beat HOST: when the control plane last heard HOST's agent (its last_heartbeat_at).
last_beat() { curl -sf -H "Authorization: Bearer $ADMIN" "$URL/v1/hosts/$1" | jq -r .last_heartbeat_at; }

# wait_beats HOST N [SECONDS]: polls until the control plane has heard HOST's agent N more
# times (its last_heartbeat_at changed N times; a registration counts as one), so that
# whatever those heartbeats reported has been reconciled; 1 after SECONDS (default 60).
wait_beats() {
  local host=$1 n=$2 secs=${3:-60} seen=0 last cur
  last=$(last_beat "$host")
  for _ in $(seq $((secs * 10))); do
    cur=$(last_beat "$host")
    if [ -n "$cur" ] && [ "$cur" != "$last" ]; then
      seen=$((seen + 1)); last=$cur
      [ "$seen" -ge "$n" ] && return 0
    fi
    sleep 0.1
  done
  return 1
}
