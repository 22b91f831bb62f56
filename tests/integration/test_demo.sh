#!/usr/bin/env bash
# `gpufleet serve --demo` (what `make demo` runs): three local agents on the built-in
# demo fleet, demo SKUs, and a banner whose commands must work exactly as printed; all of it
# over HTTPS with the CA and certificate the demo makes on its first start (and keeps).
source "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME="$T/xdg"
unset GPUFLEET_CONFIG
sd="$T/demo"
mkdir -p "$sd"
export CURL_CA_BUNDLE="$sd/tls/ca.pem" # the curl calls below verify the demo's certificate
"$GPF_BIN" serve --demo --listen 127.0.0.1:0 --state-dir "$sd" --demo-ssh-port-base "$PORT_BASE" \
    --log-level warn >"$sd/out" 2>"$sd/err" &
PIDS+=("$!"); disown "$!"
for _ in $(seq 200); do grep -q "Press Ctrl-C" "$sd/out" 2>/dev/null && break; sleep 0.05; done
check "demo banner printed" grep -q "Press Ctrl-C" "$sd/out"
URL=$(cat "$sd/serve.url")
ADMIN=$(sed -n 's/^admin token.*: //p' "$sd/out")
expect_match "the demo serves HTTPS" '^https://127\.0\.0\.1:[0-9]+$' "$URL"
expect_eq "its CA and server keys are 0600" "600 600" "$(stat -c %a "$sd/tls/ca-key.pem" "$sd/tls/server-key.pem" | xargs)"
expect_eq "plain HTTP to it gets no answer" 000 "$(curl -s -m 3 -o /dev/null -w '%{http_code}' "http://${URL#https://}/healthz")"
ca_sum=$(sha256sum <"$sd/tls/ca.pem")
for _ in $(seq 200); do
  [ "$(curl -sf -H "Authorization: Bearer $ADMIN" "$URL/v1/hosts" | jq '.hosts | length')" = 3 ] && break; sleep 0.05
done
expect_eq "three demo hosts registered" 3 "$(curl -sf -H "Authorization: Bearer $ADMIN" "$URL/v1/hosts" | jq '.hosts | length')"
expect_eq "14 demo GPUs" 14 "$(curl -sf -H "Authorization: Bearer $ADMIN" "$URL/v1/gpus" | jq '.gpus | length')"
expect_eq "three demo SKUs" "h100-1g10 h100-whole l40s-quarter" \
  "$(curl -sf -H "Authorization: Bearer $ADMIN" "$URL/v1/skus" | jq -r '[.skus[].name] | sort | join(" ")')"

# The indented lines after "Try it" are the commands; run them as printed, in one shell.
sed -n '/^Try it/,/^Press/p' "$sd/out" | sed -n 's/^  //p' >"$T/commands.sh"
expect_eq "banner has six commands" 6 "$(wc -l <"$T/commands.sh")"
bash -e "$T/commands.sh" >"$T/commands.out" 2>&1; rc=$?
expect_eq "the printed commands all succeed" 0 "$rc"
expect_match "ssh into the pod printed its id and MIG device" 'hello from pod-[0-9a-f]{8} on MIG-' "$(cat "$T/commands.out")"
expect_match "usage lists the pod" 'h100-1g10' "$(cat "$T/commands.out")"

echo "[restart] a second demo start keeps state and prints the same admin token"
kill -TERM "${PIDS[-1]}"
for _ in $(seq 100); do kill -0 "${PIDS[-1]}" 2>/dev/null || break; sleep 0.05; done
"$GPF_BIN" serve --demo --listen 127.0.0.1:0 --state-dir "$sd" --demo-ssh-port-base "$PORT_BASE" \
    --log-level warn >"$sd/out2" 2>"$sd/err2" &
PIDS+=("$!"); disown "$!"
for _ in $(seq 200); do grep -q "Press Ctrl-C" "$sd/out2" 2>/dev/null && break; sleep 0.05; done
expect_eq "same admin token on the second start" "$ADMIN" "$(sed -n 's/^admin token.*: //p' "$sd/out2")"
URL=$(cat "$sd/serve.url")
expect_eq "the same CA on the second start" "$ca_sum" "$(sha256sum <"$sd/tls/ca.pem")"
expect_eq "the stopped pod and its usage survive" 1 \
  "$(curl -sf -H "Authorization: Bearer $ADMIN" "$URL/v1/usage" | jq '[.usage[] | select(.end_at != null)] | length')"
# the second start has a new join token; the agents come back with the tokens they kept
rereg() { curl -sf -H "Authorization: Bearer $ADMIN" "$URL/v1/events?kind=host_reregistered" | jq '.events | length'; }
for _ in $(seq 300); do [ "$(rereg)" = 3 ] && break; sleep 0.1; done
expect_eq "the three demo agents re-registered with their own tokens" 3 "$(rereg)"
agents=$(pgrep -P "${PIDS[-1]}" | while read -r p; do tr '\0' ' ' <"/proc/$p/cmdline"; echo; done)
expect_match "the demo's agents run" ' agent ' "$agents"
check "no demo agent has a join token on its command line" sh -c "! echo '$agents' | grep -q -e gpfjoin_ -e join-token"
finish
