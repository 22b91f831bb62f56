#!/usr/bin/env bash
# Host identity (issue 16, item 2), end to end: the join token from a file or the environment
# (never on a command line ps shows); a join token cannot take over a registered host (409,
# the host unchanged); a restarted agent comes back with the agent token it keeps in its
# state directory, which revokes the old one; an operator's re-key lets the join token
# replace the host once; join tokens with a use count, an expiry and revocation; refusals
# counted in /metrics.
source "$(dirname "$0")/lib.sh"
G="$GPF_BIN"

# agent_bg HOST [flags...]: an agent for HOST with no join token on its command line (the
# caller gives --join-token-file or GPUFLEET_JOIN_TOKEN); sets AGENT_PID; waits until HOST
# is registered and its agent has kept its token.
agent_bg() {
  local host=$1; shift
  local n=${#PIDS[@]}
  "$G" agent --server "$URL" --host-id "$host" --state-dir "$T/agent-$host" --runtime fake \
      --ssh-port-min $((PORT_BASE + n * 10)) --ssh-port-max $((PORT_BASE + n * 10 + 9)) \
      --log-level "${GPF_LOG_LEVEL:-warn}" "$@" >>"$T/agent-$host.out" 2>&1 &
  AGENT_PID=$!
  PIDS+=("$!"); disown "$!"
  wait_for 30 test -s "$T/agent-$host/agent-token"
}
host_json() { curl -sf -H "Authorization: Bearer $ADMIN" "$URL/v1/hosts/$1"; }
# register TOKEN ID [ADDRESS]: a registration as an attacker (or a new agent) makes it;
# prints "STATUS BODY".
register() {
  api POST /v1/agent/register "{\"host\":{\"id\":\"$2\",\"address\":\"${3:-127.0.0.1}\",\"cpus\":4,\"memory_mib\":1024,\"numa_nodes\":1,\"gpus\":[]}}" "$1"
}
beat() { api POST /v1/agent/heartbeat '{}' "$1" | cut -d' ' -f1; }
metric() { curl -sf -H "Authorization: Bearer $ADMIN" "$URL/metrics" | sed -n "s/^gpufleet_agent_registrations_refused_total{reason=\"$1\"} //p"; }

echo "[secrets] the join token from a file, refused while others may read it"
printf '%s\n' "$JOIN" >"$T/join"
chmod 644 "$T/join"
mkdir -p "$T/cp0"
"$G" serve --listen 127.0.0.1:0 --state-dir "$T/cp0" --join-token-file "$T/join" >"$T/cp0.out" 2>&1; rc=$?
expect_eq "serve refuses a world-readable --join-token-file" 1 "$rc"
expect_match "and says how to fix it" 'chmod 600' "$(cat "$T/cp0.out")"
chmod 600 "$T/join"
J=$JOIN
JOIN="" # start_serve passes --join-token "$JOIN": empty, the file's counts
start_serve "$T/cp" --join-token-file "$T/join" || exit 1
JOIN=$J
ADMIN=$(admin_token "$T/cp")
"$G" login --server "$URL" --token "$ADMIN" >/dev/null 2>&1

agent_bg gpu-h100-a --join-token-file "$T/join"
A_PID=$AGENT_PID
check "an agent joins with --join-token-file" host_json gpu-h100-a
GPUFLEET_JOIN_TOKEN="$JOIN" agent_bg gpu-a100-b
check "an agent joins with GPUFLEET_JOIN_TOKEN" host_json gpu-a100-b
expect_eq "the agent keeps its token 0600" 600 "$(stat -c %a "$T/agent-gpu-h100-a/agent-token")"
expect_eq "no process shows this join token on its command line" 0 "$(pgrep -fc -- "$JOIN")"

echo "[identity] a join token cannot take over a registered host"
gpus_before=$(host_json gpu-h100-a | jq '.gpus | length')
r=$(register "$JOIN" gpu-h100-a 127.0.0.66)
expect_match "join token + existing host id -> 409" '^409 ' "$r"
expect_match "the answer says what to do" 'gpufleet host rekey gpu-h100-a' "$r"
expect_eq "the host's address is unchanged" 127.0.0.1 "$(host_json gpu-h100-a | jq -r .address)"
expect_eq "its GPUs are unchanged" "$gpus_before" "$(host_json gpu-h100-a | jq '.gpus | length')"
expect_eq "counted as host_exists" 1 "$(metric host_exists)"
A_TOK=$(cat "$T/agent-gpu-h100-a/agent-token")
r=$(register "$A_TOK" gpu-a100-b 127.0.0.66)
expect_match "an agent token cannot register another host -> 403" '^403 ' "$r"
expect_eq "a heartbeat with the agent token is accepted" 200 "$(beat "$A_TOK")"

echo "[restart] the agent comes back with its own token, which revokes the old one"
kill9 "$A_PID"
agent_bg gpu-h100-a # no join token at all: only its own token can bring it back
wait_for 30 sh -c "[ \"\$(cat '$T/agent-gpu-h100-a/agent-token')\" != '$A_TOK' ]"
expect_match "the restarted agent re-registered" 'host_reregistered' "$("$G" events --host gpu-h100-a)"
expect_eq "the old agent token is refused (401)" 401 "$(beat "$A_TOK")"
expect_eq "the new one is accepted" 200 "$(beat "$(cat "$T/agent-gpu-h100-a/agent-token")")"
expect_eq "the host is ready" ready "$(host_json gpu-h100-a | jq -r .state)"

echo "[rekey] an operator lets the join token replace a host, once"
B_TOK=$(cat "$T/agent-gpu-a100-b/agent-token")
check "host rekey" "$G" host rekey gpu-a100-b
# its agent's token is refused at once; the agent (it has the join token) registers anew
wait_for 30 sh -c "[ \"\$(cat '$T/agent-gpu-a100-b/agent-token')\" != '$B_TOK' ]"
expect_eq "the re-keyed host's old agent token is refused" 401 "$(beat "$B_TOK")"
expect_eq "its agent registered again with the join token" ready "$(host_json gpu-a100-b | jq -r .state)"
expect_eq "the re-key is used up" null "$(host_json gpu-a100-b | jq -c .rekey)"
expect_match "a second join-token registration -> 409" '^409 ' "$(register "$JOIN" gpu-a100-b 127.0.0.66)"
expect_match "the events tell it" 'host_rekeyed' "$("$G" events --host gpu-a100-b)"

echo "[join tokens] use count, expiry, revocation"
ONCE=$("$G" join-token create --name once --uses 1)
expect_match "create prints the secret" '^gpfjoin_' "$ONCE"
SHORT=$("$G" join-token create --name short --expires-in 1s)
GONE_JSON=$("$G" join-token create --name gone --json)
GONE=$(echo "$GONE_JSON" | jq -r .token)
GONE_ID=$(echo "$GONE_JSON" | jq -r .id)
expect_match "a new host with a one-use token -> 200" '^200 ' "$(register "$ONCE" gpu-x1)"
expect_match "used up -> 401" '^401 .*no uses left' "$(register "$ONCE" gpu-x2)"
sleep 1.2
expect_match "expired -> 401" '^401 .*expired' "$(register "$SHORT" gpu-x2)"
check "join-token revoke" "$G" join-token revoke "$GONE_ID"
expect_match "revoked -> 401" '^401 .*revoked' "$(register "$GONE" gpu-x2)"
expect_match "unknown -> 401" '^401 .*unknown join token' "$(register gpfjoin_nosuch gpu-x2)"
ls_out=$("$G" join-token ls --json)
expect_eq "ls shows every join token" 4 "$(echo "$ls_out" | jq '.join_tokens | length')"
expect_eq "ls shows their states" "active expired revoked used_up" \
  "$(echo "$ls_out" | jq -r '[.join_tokens[].state] | sort | join(" ")')"
check "ls never shows a secret" sh -c "! echo '$ls_out' | grep -q gpfjoin_"
"$G" user create mia --role member >/dev/null 2>&1
MIA=$("$G" token create --user mia 2>/dev/null)
"$G" join-token ls --token "$MIA" >/dev/null 2>&1; rc=$?
expect_eq "a member may not list join tokens (exit 4)" 4 "$rc"
# unknown_token: the one above and the re-keyed agent's revoked token (then it used the join token)
expect_eq "refusals counted: used_up expired revoked unknown_token" "1 1 1 2" \
  "$(metric used_up) $(metric expired) $(metric revoked) $(metric unknown_token)"

echo "[cli] the token from a file or standard input"
printf '%s\n' "$ADMIN" >"$T/admin-token"
chmod 600 "$T/admin-token"
check "--token-file" "$G" whoami --token-file "$T/admin-token"
chmod 640 "$T/admin-token"
check "--token-file its group may read still works (a warning)" "$G" whoami --token-file "$T/admin-token"
chmod 604 "$T/admin-token"
"$G" whoami --token-file "$T/admin-token" >/dev/null 2>&1; rc=$?
expect_eq "--token-file others may read is refused (exit 4)" 4 "$rc"
echo "$ADMIN" | GPUFLEET_CONFIG="$T/stdin.json" "$G" login --server "$URL" >/dev/null 2>"$T/login.err"; rc=$?
expect_eq "login reads the token from standard input" 0 "$rc"
expect_eq "and saves it" "$ADMIN" "$(jq -r .token "$T/stdin.json" 2>/dev/null)"
finish
