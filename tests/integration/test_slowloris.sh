#!/usr/bin/env bash
# Slowloris: 1,000 connections from one client address that each send a partial request
# header and dribble a byte now and then (reconnecting when the server drops them) must not
# lock anyone else out: a legitimate client's /healthz and GET /v1/pods answer within 1 s,
# a live agent keeps its host ready, and the noise is counted in /metrics rather than logged
# line by line.
source "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { skip python3 "no python3 to hold the connections"; finish; exit $?; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null

start_serve "$T/cp" --lost-after-beats 5 --http-timeout-s 3 || exit 1
ADMIN=$(admin_token "$T/cp")
start_agent gpu-a100-b process || exit 1
PORT=${URL##*:}

cat >"$T/slowloris.py" <<'PY'
import resource, select, socket, sys, time
port, n, secs, src = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
socks, opened, t_end, last_top = [], 0, time.time() + secs, 0.0
def top_up():
    global opened
    while len(socks) < n:
        s = socket.socket()
        s.bind((src, 0))
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(s)
        opened += 1
top_up()
time.sleep(0.5)
for s in socks:
    try:
        s.send(b"GET /v1/pods HTTP/1.1\r\nHost: x\r\nX-a: ")
    except OSError:
        pass
print("holding", len(socks), flush=True)
while time.time() < t_end:
    r, _, _ = select.select(socks[:1000], [], [], 0.5)
    for s in r:  # the server closed it (EOF) or refused it: reconnect, as an attacker would
        try:
            if s.recv(4096):
                continue
        except OSError:
            pass
        socks.remove(s)
        s.close()
    if time.time() - last_top >= 1.0:
        last_top = time.time()
        for s in socks:
            try:
                s.send(b"a")  # one byte of the header now and then
            except OSError:
                pass
        top_up()
print("opened", opened, flush=True)
PY

echo "[attack] 1000 partial-header connections from 127.0.0.2"
python3 "$T/slowloris.py" "$PORT" 1000 22 127.0.0.2 >"$T/slowloris.out" 2>&1 &
ATTACK=$!
PIDS+=("$ATTACK")
for _ in $(seq 100); do grep -q holding "$T/slowloris.out" && break; sleep 0.1; done
expect_match "the attacker holds its connections" '^holding 1000' "$(head -1 "$T/slowloris.out")"

hz_ok=0; pods_ok=0; probes=0
for _ in $(seq 8); do
  probes=$((probes + 1))
  code=$(curl -s -o /dev/null -w '%{http_code}' -m 1 "$URL/healthz")
  [ "$code" = 200 ] && hz_ok=$((hz_ok + 1))
  code=$(curl -s -o /dev/null -w '%{http_code}' -m 1 -H "Authorization: Bearer $ADMIN" "$URL/v1/pods")
  [ "$code" = 200 ] && pods_ok=$((pods_ok + 1))
  sleep 2
done
expect_eq "/healthz answers within 1 s under attack" "$probes/$probes" "$hz_ok/$probes"
expect_eq "GET /v1/pods answers within 1 s under attack" "$probes/$probes" "$pods_ok/$probes"
host_state=$(curl -s -m 1 -H "Authorization: Bearer $ADMIN" "$URL/v1/hosts/gpu-a100-b" | jq -r .state)
expect_eq "the agent's host is not lost" ready "$host_state"
metrics=$(curl -s -m 1 -H "Authorization: Bearer $ADMIN" "$URL/metrics")
rejected=$(printf '%s\n' "$metrics" | sed -n 's/^gpufleet_http_connections_rejected_total{reason="per_client_limit"} //p')
expect_match "rejected connections are counted in /metrics" '^[1-9][0-9]*$' "$rejected"
kill "$ATTACK" 2>/dev/null; wait "$ATTACK" 2>/dev/null

echo "[timeout] a connection that sends part of a header and then nothing is closed"
start=$(date +%s%N)
python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(8)
s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-a: ")
print("closed" if s.recv(4096) == b"" else "answered")' "$PORT" >"$T/idle.out" 2>&1
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "the server closed it" closed "$(cat "$T/idle.out")"
expect_match "after the 3 s timeout, not much later (${ms} ms)" '^[2-5][0-9]{3}$' "$ms"
timed_out=$(curl -s -m 1 -H "Authorization: Bearer $ADMIN" "$URL/metrics" | sed -n 's/^gpufleet_http_connections_timed_out_total //p')
expect_match "timed-out connections are counted in /metrics" '^[1-9][0-9]*$' "$timed_out"
lines=$(grep -c 'comp=http' "$T/cp/serve.err")
expect_match "no log line per dropped connection ($lines lines)" '^[0-9]$' "$lines"
finish
