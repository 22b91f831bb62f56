#!/usr/bin/env bash
# The credential lifecycle end to end, through the CLI against a real daemon and agent (the
# process runtime): a member's named token with an expiry, listed without its secret,
# refused once it expires and at once once revoked, also after a kill -9 restart; its last
# use written at most once a minute (a burst of requests adds no database write) and at
# shutdown; disabling the member refuses its token and ends its running pod (the agent
# stops its processes, usage closes); enabling restores the token; deleting it revokes the
# token, keeps its records readable by the admin and its name reserved; the last admin
# cannot be disabled or deleted; and the events say all of it.
source "$(dirname "$0")/lib.sh"
G="$GPF_BIN"
DB="$T/cp/gpufleet.db"

start_serve "$T/cp" || exit 1
SERVE_LISTEN=${URL#http://} # restarts keep the port the agent and the CLI know
ADMIN=$(admin_token "$T/cp")
"$G" login --server "$URL" --token "$ADMIN" >/dev/null 2>&1
start_agent gpu-l40s-c process || exit 1
check "admin creates a whole-L40S SKU" "$G" sku create --name l40s --kind whole --gpus 1 --model L40S --cpus 1 \
  --memory-mib 1024 --price-per-hour 3.6 --min-isolation soft

echo "[tokens] a named token with an expiry"
mkdir -p "$T/mia"
ssh-keygen -q -t ed25519 -N '' -C mia -f "$T/mia/id_ed25519"
check "admin creates user mia" "$G" user create mia --role member --ssh-key "$T/mia/id_ed25519.pub"
MIA=$("$G" token create --user mia --name ci --expires-in 1h 2>/dev/null)
expect_match "token create prints the secret" '^gpf_[0-9a-f]{40}$' "$MIA"
M() { GPUFLEET_TOKEN="$1" "$G" "${@:2}"; }
expect_eq "mia's token works" mia "$(M "$MIA" whoami --json | jq -r .user)"
ls_json=$(M "$MIA" token ls --json)
expect_eq "mia lists her one token, named ci" "ci" "$(echo "$ls_json" | jq -r '.tokens[0].name')"
expect_eq "the list holds no secret" 0 "$(echo "$ls_json" | grep -c "${MIA#gpf_}")"
expect_eq "the list holds no hash" null "$(echo "$ls_json" | jq -r '.tokens[0].hash')"
expect_eq "it shows an expiry" true "$(echo "$ls_json" | jq '.tokens[0].expires_at != null')"
SHORT=$("$G" token create --user mia --name short --expires-in 1s 2>/dev/null)
sleep 1.2
M "$SHORT" whoami >/dev/null 2>"$T/short.err"; rc=$?
expect_eq "an expired token is refused (exit 4)" 4 "$rc"
expect_match "saying so" 'token expired' "$(cat "$T/short.err")"
mia_id=$(M "$MIA" token ls --json | jq -r '.tokens[] | select(.name == "ci") | .id')
"$G" token create --user eve >/dev/null 2>&1; rc=$?
expect_eq "a token for an unknown user: not found (exit 3)" 3 "$rc"

echo "[last use] kept in memory, written at most once a minute and at shutdown"
wal() { stat -c %s "$DB-wal" 2>/dev/null || echo 0; }
w0=$(wal)
for _ in $(seq 300); do echo "url = \"$URL/v1/whoami\""; done > "$T/urls"
curl -s -K "$T/urls" -H "Authorization: Bearer $MIA" >/dev/null
expect_eq "300 authenticated reads write nothing (WAL size unchanged)" "$w0" "$(wal)"
expect_eq "the list shows the last use at once" true \
  "$(M "$MIA" token ls --json | jq '[.tokens[] | select(.name == "ci")][0].last_used_at != null')"
expect_eq "the database does not have it yet" 0 \
  "$(sqlite3 "$DB" "SELECT last_used_ms FROM tokens WHERE id = '$mia_id'")"
kill -TERM "$SERVE_PID"; wait_for 30 sh -c "! kill -0 $SERVE_PID"
expect_eq "a clean shutdown writes it" 1 \
  "$(sqlite3 "$DB" "SELECT last_used_ms > 0 FROM tokens WHERE id = '$mia_id'")"
start_serve "$T/cp" || exit 1
wait_beats gpu-l40s-c 2 >/dev/null

echo "[revoke] at once, and after a kill -9"
OTHER=$("$G" token create --user mia --name laptop 2>/dev/null)
other_id=$(M "$OTHER" token ls --json | jq -r '.tokens[] | select(.name == "laptop") | .id')
M "$MIA" token revoke "$other_id" >/dev/null 2>&1
M "$OTHER" whoami >/dev/null 2>&1; rc=$?
expect_eq "mia revokes her laptop token: refused at once (exit 4)" 4 "$rc"
kill9 "$SERVE_PID"
start_serve "$T/cp" || exit 1
M "$OTHER" whoami >/dev/null 2>&1; rc=$?
expect_eq "still refused after a kill -9 restart" 4 "$rc"
expect_eq "her ci token still works" mia "$(M "$MIA" whoami --json | jq -r .user)"
"$G" user create nia --role member >/dev/null 2>&1
NIA=$("$G" token create --user nia 2>/dev/null)
M "$NIA" token revoke "$mia_id" >/dev/null 2>&1; rc=$?
expect_eq "another member cannot revoke mia's token: not found (exit 3)" 3 "$rc"
M "$NIA" token ls --user mia >/dev/null 2>&1; rc=$?
expect_eq "nor list mia's tokens (exit 4)" 4 "$rc"

echo "[disable] mia's token refused, her running pod ended"
wait_beats gpu-l40s-c 2 >/dev/null
POD=$(M "$MIA" pod launch l40s --quiet)
expect_eq "mia's pod runs" running "$("$G" pod show "$POD" --json | jq -r .state)"
pid=$(sed -n 's/^pid=//p' "$T/agent-gpu-l40s-c/pods/$POD/state")
check "admin disables mia" "$G" user disable mia
M "$MIA" whoami >/dev/null 2>"$T/dis.err"; rc=$?
expect_eq "mia's token is refused (exit 4)" 4 "$rc"
expect_match "because she is disabled" "user 'mia' is disabled" "$(cat "$T/dis.err")"
wait_for 30 sh -c "[ \"\$('$G' pod show $POD --json | jq -r .state)\" = stopped ]"
expect_eq "her pod is stopped" stopped "$("$G" pod show "$POD" --json | jq -r .state)"
expect_match "the event says so" 'user mia disabled by admin.*1 live pods stopped' "$("$G" events --kind user_disabled)"
expect_match "its processes are gone (none left, or a zombie)" '^ *(Z.*)?$' "$(ps -o stat= -p "$pid" 2>/dev/null)"
expect_eq "its usage is closed" 1 "$("$G" usage --pod "$POD" --json | jq '[.usage[] | select(.end_at != null)] | length')"
expect_eq "user ls shows her disabled" true "$("$G" user ls --json | jq '.users[] | select(.name == "mia") | .disabled')"
check "admin enables mia" "$G" user enable mia
expect_eq "her token works again" mia "$(M "$MIA" whoami --json | jq -r .user)"

echo "[last admin] cannot be disabled or deleted"
"$G" user disable admin >/dev/null 2>"$T/adm.err"; rc=$?
expect_eq "disable admin: conflict (exit 5)" 5 "$rc"
expect_match "saying why" 'last enabled admin' "$(cat "$T/adm.err")"
"$G" user delete admin >/dev/null 2>&1; rc=$?
expect_eq "delete admin: conflict (exit 5)" 5 "$rc"

echo "[delete] token revoked, records kept, name reserved"
check "admin deletes mia" "$G" user delete mia
M "$MIA" whoami >/dev/null 2>&1; rc=$?
expect_eq "mia's token is refused (exit 4)" 4 "$rc"
expect_eq "her token is revoked in the database" 1 \
  "$(sqlite3 "$DB" "SELECT revoked_ms > 0 FROM tokens WHERE id = '$mia_id'")"
expect_eq "she is gone from user ls" 0 "$("$G" user ls --json | jq '[.users[] | select(.name == "mia")] | length')"
expect_eq "her pod's record stays readable" stopped "$("$G" pod show "$POD" --json | jq -r .state)"
expect_eq "her usage stays readable" mia "$("$G" usage --pod "$POD" --json | jq -r '.usage[0].owner')"
"$G" user create mia --role member >/dev/null 2>"$T/re.err"; rc=$?
expect_eq "her name cannot be taken again (exit 5)" 5 "$rc"
expect_match "saying why" 'reserved' "$(cat "$T/re.err")"

echo "[events] every change, never a secret"
ev=$("$G" events --json --limit 1000)
for k in user_created token_created token_revoked user_disabled user_enabled user_deleted; do
  expect_eq "an event $k" true "$(echo "$ev" | jq --arg k "$k" '[.events[] | select(.kind == $k)] | length > 0')"
done
expect_eq "no event holds a secret" 0 "$(echo "$ev" | grep -c -e "${MIA#gpf_}" -e "${OTHER#gpf_}")"

finish
