#!/usr/bin/env bash
# TLS for the API and the agent link: `serve --tls-cert/--tls-key` with an operator's own CA
# (made here with the openssl command); an agent (fake runtime) registers over HTTPS with
# --ca-file, the CLI logs in (CA file and pin saved), launches and stops a pod. Refused: a
# client without the CA, a wrong pin, plain HTTP to the HTTPS port, a key others may read or
# another certificate's, plain HTTP on an address that is not loopback (accepted with
# --insecure-http, with a warning). 1,000 TCP connections that never send a ClientHello lock
# no one out and are closed at the header deadline.
source "$(dirname "$0")/lib.sh"
G="$GPF_BIN"
command -v openssl >/dev/null || { skip openssl "no openssl command to make the test CA"; finish; exit $?; }

echo "[pki] a CA and a server certificate for localhost/127.0.0.1, and another CA"
P="$T/pki"
mkdir -p "$P/other"
mk_ca() { # mk_ca DIR NAME
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/ca-key.pem" -out "$1/ca.pem" \
    -days 30 -subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
mk_server() { # mk_server DIR: server.pem/server-key.pem signed by DIR's CA
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/server-key.pem" -out "$1/server.csr" \
    -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$1/ext.cnf"
  openssl x509 -req -in "$1/server.csr" -CA "$1/ca.pem" -CAkey "$1/ca-key.pem" -CAcreateserial -days 30 \
    -extfile "$1/ext.cnf" -out "$1/server.pem" 2>/dev/null
  chmod 600 "$1/server-key.pem"
}
mk_ca "$P" "test CA" && mk_server "$P" && mk_ca "$P/other" "other CA" && mk_server "$P/other"
check "test PKI made" test -s "$P/server.pem" -a -s "$P/other/server.pem"
# pins computed by openssl, independently of gpufleet: SHA-256 of the DER public key, base64
pin_of() { openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64; }
PIN="sha256//$(pin_of "$P/server.pem")"
OTHER_PIN="sha256//$(pin_of "$P/other/server.pem")"

echo "[key] a private key others may read, or not the certificate's, is refused at start"
chmod 644 "$P/server-key.pem"
"$G" serve --listen 127.0.0.1:0 --state-dir "$T/refused" --tls-cert "$P/server.pem" --tls-key "$P/server-key.pem" \
  --log-level warn >"$T/refused.out" 2>&1 & pid=$!; PIDS+=("$pid")
wait_for 10 sh -c "! kill -0 $pid"; wait "$pid" 2>/dev/null; rc=$?
expect_eq "serve exits 1" 1 "$rc"
expect_match "and says why" 'others may read or write.*chmod 600' "$(cat "$T/refused.out")"
chmod 600 "$P/server-key.pem"
"$G" serve --listen 127.0.0.1:0 --state-dir "$T/refused" --tls-cert "$P/server.pem" --tls-key "$P/other/server-key.pem" \
  --log-level warn >"$T/mismatch.out" 2>&1
expect_eq "a key that is not the certificate's: serve exits 1" 1 "$?"
expect_match "and says so" "not the certificate's key" "$(cat "$T/mismatch.out")"

echo "[serve] HTTPS with the operator's certificate"
export CURL_CA_BUNDLE="$P/ca.pem" # lib.sh's curl calls verify with the test CA
start_serve "$T/cp" --tls-cert "$P/server.pem" --tls-key "$P/server-key.pem" --http-timeout-s 2 || exit 1
ADMIN=$(admin_token "$T/cp")
expect_match "serve.url is https" '^https://127\.0\.0\.1:[0-9]+$' "$URL"
PORT=${URL##*:}
expect_eq "the pin serve prints is openssl's" "$PIN" "$(sed -n 's/^TLS certificate pin (for --pin): //p' "$T/cp/serve.out")"
expect_eq "curl with the CA: /healthz 200" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")"
expect_eq "curl with the other CA: no answer" 000 \
  "$(CURL_CA_BUNDLE="$P/other/ca.pem" curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")"
expect_eq "plain HTTP to the HTTPS port: no answer" 000 \
  "$(curl -s -m 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")"

echo "[agent] registers over HTTPS with --ca-file; not without the CA or with a wrong pin"
start_agent gpu-a100-b fake --ca-file "$P/ca.pem" --pin "$PIN" || exit 1
ok "agent gpu-a100-b registered over HTTPS (CA file and pin)"
for bad in "other-ca:--ca-file $P/other/ca.pem" "wrong-pin:--ca-file $P/ca.pem --pin $OTHER_PIN"; do
  name=${bad%%:*}
  # shellcheck disable=SC2086
  GPUFLEET_JOIN_TOKEN="$JOIN" "$G" agent --server "$URL" --host-id gpu-l40s-c --runtime fake \
    --state-dir "$T/agent-$name" --log-level warn ${bad#*:} >"$T/agent-$name.out" 2>&1 & PIDS+=("$!"); disown "$!"
done
wait_for 20 sh -c "grep -q 'not trusted' '$T/agent-other-ca.out' && grep -q 'does not match the pin' '$T/agent-wrong-pin.out'"
expect_match "an agent with another CA says the server is not trusted" 'register_failed.*not trusted' \
  "$(cat "$T/agent-other-ca.out")"
expect_match "an agent with a wrong pin says so" 'register_failed.*does not match the pin' \
  "$(cat "$T/agent-wrong-pin.out")"
expect_eq "neither registered" null \
  "$(curl -s -H "Authorization: Bearer $ADMIN" "$URL/v1/hosts" | jq -c '[.hosts[].id | select(. == "gpu-l40s-c")][0]')"

echo "[cli] login (CA file and pin saved), launch and stop over HTTPS"
"$G" login --server "$URL" --token "$ADMIN" >"$T/login.out" 2>&1; rc=$?
expect_eq "login without the CA fails: cannot reach (exit 6)" 6 "$rc"
expect_match "and says the certificate is not trusted" 'not trusted.*--ca-file' "$(cat "$T/login.out")"
check "login with --ca-file and --pin" "$G" login --server "$URL" --token "$ADMIN" --ca-file "$P/ca.pem" --pin "$PIN"
expect_eq "the config keeps the CA file" "$(readlink -f "$P/ca.pem")" "$(jq -r .ca_file "$GPUFLEET_CONFIG")"
expect_eq "the config keeps the pin" "$PIN" "$(jq -r .pin "$GPUFLEET_CONFIG")"
check "create a quarter-A100 SKU" "$G" sku create --name a100-q --kind share --share-milli 250 --model A100-80GB \
  --cpus 1 --memory-mib 1024 --price-per-hour 1 --min-isolation soft
POD=$("$G" pod launch a100-q --quiet 2>"$T/launch.err")
expect_match "pod launched over HTTPS" '^pod-[0-9a-f]{8}$' "$POD"
expect_eq "it runs on the agent that came over HTTPS" running "$("$G" pod show "$POD" --json | jq -r .state)"
check "pod stop over HTTPS" "$G" pod stop "$POD"
"$G" whoami --pin "$OTHER_PIN" >"$T/pin.out" 2>&1; rc=$?
expect_eq "a wrong pin fails (exit 6)" 6 "$rc"
expect_match "and says so" 'does not match the pin' "$(cat "$T/pin.out")"
"$G" whoami --server "https://localhost:$PORT" >"$T/other.out" 2>&1; rc=$?
expect_eq "the saved token is for the saved server only (localhost: not logged in, exit 4)" 4 "$rc"
printf '%s\n' "$ADMIN" >"$T/admin.tok"; chmod 600 "$T/admin.tok"
"$G" whoami --server "https://localhost:$PORT" --token-file "$T/admin.tok" >/dev/null 2>&1; rc=$?
expect_eq "the saved CA is for the saved server only (localhost: not trusted, exit 6)" 6 "$rc"
GPUFLEET_CONFIG="$T/none.json" "$G" whoami --server "$URL" --token "$ADMIN" >"$T/noca.out" 2>&1; rc=$?
expect_eq "a client without the CA (another config) fails (exit 6)" 6 "$rc"
GPUFLEET_CONFIG="$T/none.json" GPUFLEET_CA_FILE="$P/ca.pem" "$G" whoami --server "$URL" --token "$ADMIN" >/dev/null 2>&1
expect_eq "GPUFLEET_CA_FILE gives the CA" 0 "$?"
GPUFLEET_CONFIG="$T/none.json" "$G" whoami --server "http://127.0.0.1:$PORT" --token "$ADMIN" \
  --ca-file "$P/ca.pem" >"$T/http-ca.out" 2>&1; rc=$?
expect_eq "a CA file for an http:// URL is a usage error (exit 2)" 2 "$rc"

echo "[stall] 1000 connections from 127.0.0.2 that never send a ClientHello"
command -v python3 >/dev/null || { skip stall "no python3 to hold the connections"; finish; exit $?; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null
cat >"$T/stall.py" <<'PY'
import resource, select, socket, sys, time
port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
socks = []
for _ in range(n):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    socks.append(s)
print("holding", len(socks), flush=True)
t0, open_, p = time.time(), {s.fileno(): s for s in socks}, select.poll()
for fd in open_:
    p.register(fd, select.POLLIN)
while open_ and time.time() - t0 < secs:
    for fd, _ in p.poll(500):
        try:
            if open_[fd].recv(64):
                continue
        except OSError:
            pass
        p.unregister(fd)
        del open_[fd]
print("still_open", len(open_), flush=True)
PY
python3 "$T/stall.py" "$PORT" 1000 12 >"$T/stall.out" 2>&1 & ATTACK=$!
PIDS+=("$ATTACK")
wait_for 10 grep -q holding "$T/stall.out"
hz_ok=0; pods_ok=0
for _ in 1 2 3 4 5; do
  [ "$(curl -s -m 1 -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200 ] && hz_ok=$((hz_ok + 1))
  [ "$(curl -s -m 1 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "$URL/v1/pods")" = 200 ] &&
    pods_ok=$((pods_ok + 1))
  sleep 0.5
done
expect_eq "/healthz over HTTPS answers within 1 s meanwhile" 5/5 "$hz_ok/5"
expect_eq "GET /v1/pods over HTTPS answers within 1 s meanwhile" 5/5 "$pods_ok/5"
wait "$ATTACK" 2>/dev/null
expect_eq "every stalled connection was closed (refused or timed out)" "still_open 0" "$(tail -1 "$T/stall.out")"
metrics=$(curl -s -m 2 -H "Authorization: Bearer $ADMIN" "$URL/metrics")
expect_match "refused ones are counted" '^[1-9][0-9]*$' \
  "$(printf '%s\n' "$metrics" | sed -n 's/^gpufleet_http_connections_rejected_total{reason="per_client_limit"} //p')"
expect_eq "the agent's host is still ready" ready "$(curl -s -H "Authorization: Bearer $ADMIN" "$URL/v1/hosts/gpu-a100-b" | jq -r .state)"
lines=$(grep -c 'comp=http' "$T/cp/serve.err")
expect_match "no log line per failed handshake ($lines lines)" '^[0-9]$' "$lines"

echo "[listen] plain HTTP only on loopback, or with --insecure-http"
"$G" serve --listen 0.0.0.0:0 --state-dir "$T/open" --log-level warn >"$T/open.out" 2>&1 & pid=$!; PIDS+=("$pid")
wait_for 10 sh -c "! kill -0 $pid"; wait "$pid" 2>/dev/null; rc=$?
expect_eq "0.0.0.0 without TLS: serve exits 1" 1 "$rc"
expect_match "and says what to do" 'without TLS.*--tls-cert.*--insecure-http' "$(cat "$T/open.out")"
check "no admin token was made (nothing started)" test ! -e "$T/open/gpufleet.db"
SERVE_LISTEN=0.0.0.0:0 start_serve "$T/insecure" --insecure-http || exit 1
expect_match "with --insecure-http it serves plain HTTP" '^http://' "$URL"
expect_eq "/healthz answers" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")"
expect_match "and warns at start" 'event=insecure_http' "$(cat "$T/insecure/serve.err")"
kill9 "$SERVE_PID"
SERVE_LISTEN=0.0.0.0:0 start_serve "$T/open-tls" --tls-cert "$P/server.pem" --tls-key "$P/server-key.pem" || exit 1
expect_eq "0.0.0.0 with TLS needs no flag: /healthz over HTTPS" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")"
finish
