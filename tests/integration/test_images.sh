#!/usr/bin/env bash
# Images end to end: an admin imports an OCI layout (made with umoci) through the CLI, a SKU
# names it, a pod launched from the SKU carries its digest, an agent downloads its blobs
# (a user token may not), an image in use cannot be removed, `serve --default-image`
# imports the default at start (once per digest), and placement refuses a host whose
# runtime gives weaker isolation than a SKU needs, saying so. Skipped (said) without skopeo/umoci.
source "$(dirname "$0")/lib.sh"
G="$GPF_BIN"

for tool in skopeo umoci; do
  if ! command -v "$tool" >/dev/null; then skip "$tool" "$tool is not installed: nothing of this script runs"; finish; exit 0; fi
done

echo "[setup] a small OCI layout, the control plane, an agent with the fake runtime"
cd "$T" || exit 1
echo "hello from the image" > hello.txt
umoci init --layout layout >/dev/null && umoci new --image layout:v1 >/dev/null &&
  umoci insert --rootless --image layout:v1 hello.txt /hello.txt >/dev/null
DIGEST=$(jq -r '.manifests[0].digest' layout/index.json)
expect_match "umoci made a layout" '^sha256:[0-9a-f]{64}$' "$DIGEST"
start_serve "$T/cp" || exit 1
SERVE_LISTEN="127.0.0.1:${URL##*:}"
ADMIN=$(admin_token "$T/cp")
"$G" login --server "$URL" --token "$ADMIN" >/dev/null 2>&1
start_agent gpu-l40s-c fake || exit 1

echo "[import] a relative DIR:REF, made absolute by the CLI"
out=$("$G" image import layout:v1 --name base 2>&1)
expect_match "image import says what it imported" "^imported image base: $DIGEST" "$out"
expect_eq "image ls --json has its manifest digest" "$DIGEST" "$("$G" image ls --json | json_get '.images[0].digest')"
expect_eq "... and the absolute source" "$T/layout:v1" "$("$G" image ls --json | json_get '.images[0].source')"
out=$("$G" image import layout:v1 --name base 2>&1)
expect_match "importing the name again replaces it" "^replaced image base: $DIGEST \(was $DIGEST\)" "$out"
out=$("$G" image import "$T/nothing" --name x 2>&1); rc=$?
expect_match "a missing source is refused (exit 3)" "^3 gpufleet: source $T/nothing not found on the control plane" "$rc $out"
out=$("$G" image import "$T" --name x 2>&1); rc=$?
expect_match "a directory that is no image is refused (exit 2)" "^2 .*not an OCI image" "$rc $out"

echo "[sku] SKUs name images and the isolation they need"
out=$("$G" sku create --name nope --kind whole --model L40S --image nope 2>&1); rc=$?
expect_match "an unknown image is refused, naming the images there are" "^2 .*no image named 'nope'; the images are: base" "$rc $out"
check "create a SKU running image base" "$G" sku create --name l40s --kind whole --model L40S --cpus 1 \
  --memory-mib 1024 --image base --min-isolation hardware
expect_eq "sku show says so" "base hardware" \
  "$("$G" sku show l40s --json | jq -r '"\(.image) \(.min_isolation)"')"
out=$("$G" image rm base 2>&1); rc=$?
expect_match "an image in use cannot be removed (exit 5)" "^5 .*used by SKU l40s" "$rc $out"

echo "[launch] the pod carries the image's digest"
POD=$("$G" pod launch l40s --quiet)
expect_match "pod launched" '^pod-[0-9a-f]{8}$' "$POD"
pj=$("$G" pod show "$POD" --json)
expect_eq "pod image" "base $DIGEST" "$(echo "$pj" | jq -r '"\(.image.name) \(.image.digest)"')"
expect_eq "the fake runtime's host gives hardware isolation" hardware \
  "$("$G" host ls --json | jq -r '.hosts[] | select(.id=="gpu-l40s-c") | .isolation_max')"

echo "[blobs] agents download blobs; users may not"
r=$(api POST /v1/agent/register '{"host":{"id":"blob-reader","cpus":1,"memory_mib":1024}}' "$JOIN")
ATOK=$(echo "${r#* }" | json_get .agent_token)
LAYER=$(jq -r '.layers[0].digest' "layout/blobs/sha256/${DIGEST#sha256:}")
code=$(curl -s -o "$T/blob" -w '%{http_code}' -H "Authorization: Bearer $ATOK" "$URL/v1/agent/blobs/$LAYER")
expect_eq "an agent gets the layer (200)" 200 "$code"
expect_eq "... byte for byte" "${LAYER#sha256:}" "$(sha256sum "$T/blob" | cut -d' ' -f1)"
expect_match "a user token is refused (403)" '^403 ' "$(api GET "/v1/agent/blobs/$LAYER")"
expect_match "a malformed digest is 400" '^400 ' "$(api GET /v1/agent/blobs/sha256:abc "" "$ATOK")"
expect_match "an unknown blob is 404" '^404 ' \
  "$(api GET /v1/agent/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000 "" "$ATOK")"

echo "[isolation] a host whose runtime gives soft isolation takes no pod that needs more"
start_agent gpu-h100-a process || exit 1
check "create an H100 SKU (min_isolation device by default)" "$G" sku create --name h100 --kind whole \
  --model H100-80GB --cpus 1 --memory-mib 1024
out=$("$G" pod launch h100 --quiet 2>&1); rc=$?
expect_match "refused (exit 5), saying which host and why" \
  "^5 .*host gpu-h100-a: runtime gives soft isolation, SKU needs device" "$rc $out"

echo "[default] serve --default-image imports the layout as \"default\", once per digest"
kill9 "$SERVE_PID"
start_serve "$T/cp" --default-image "$T/layout" || exit 1
wait_for 20 bash -c "'$G' image ls --json | jq -e '.images[] | select(.name==\"default\")'"
expect_eq "image default imported at start" "$DIGEST" \
  "$("$G" image ls --json | jq -r '.images[] | select(.name=="default") | .digest')"
kill9 "$SERVE_PID"
start_serve "$T/cp" --default-image "$T/layout" --log-level info || exit 1
wait_for 20 grep -q 'event=default_image' "$T/cp/serve.err"
expect_match "the same digest is not imported again" 'event=default_image unchanged=' "$(cat "$T/cp/serve.err")"
kill9 "$SERVE_PID"
start_serve "$T/cp" --default-image "$T/no-such-image" --log-level info || exit 1
wait_for 20 grep -q 'event=default_image_missing' "$T/cp/serve.err"
expect_match "a missing default image is a warning that says to run make image" \
  'event=default_image_missing.*make image' "$(cat "$T/cp/serve.err")"
check "... and the control plane serves" curl -sf "$URL/healthz"

finish
