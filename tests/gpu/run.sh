#!/usr/bin/env bash
# make test-gpu: on a host with NVIDIA GPUs, compares what `gpufleet discover --json` (the
# NVML backend) reports with nvidia-smi, GPU by GPU; then runs `gpufleet check` and shows
# its verdict. Skips (exit 0) where nvidia-smi is absent. Exit 1 on any mismatch.
set -u
BUILD=${BUILD:-build}
BIN=${GPF_BIN:-$BUILD/gpufleet}

if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "test-gpu: skipped: nvidia-smi not found (no NVIDIA driver on this host)"
  exit 0
fi
for tool in jq "$BIN"; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "$tool" ]; then
    echo "test-gpu: $tool is missing (run make first; jq comes with scripts/install-deps.sh)" >&2
    exit 2
  fi
done

pass=0; fail=0
ok()   { pass=$((pass+1)); printf '  ok    %s\n' "$*"; }
bad()  { fail=$((fail+1)); printf '  FAIL  %s\n' "$*"; }
note() { printf '  note  %s\n' "$*"; }
trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; printf '%s' "${s%"${s##*[![:space:]]}"}"; }
# "00000000:18:00.0" and "0000:18:00.0" alike: lowercase, 4-digit domain
busid() { local b; b=$(printf '%s' "$1" | tr 'A-F' 'a-f'); printf '%s' "${b: -12}"; }
unknown() { case $1 in ''|null|'[N/A]'|N/A|'[Not Supported]') return 0;; esac; return 1; }

# same: what, discover's value, nvidia-smi's value
same() {
  if [ "$2" = "$3" ]; then ok "$1: $2"; else bad "$1: discover says '$2', nvidia-smi says '$3'"; fi
}
# same_if_known: like same, but a value either side cannot tell is only noted
same_if_known() {
  if unknown "$2" || unknown "$3"; then note "$1: not known to both (discover '$2', nvidia-smi '$3')"
  else same "$1" "$2" "$3"; fi
}

json=$("$BIN" discover --json)
rc=$?
if [ $rc -ne 0 ]; then
  echo "test-gpu: '$BIN discover --json' failed (exit $rc)" >&2
  exit 1
fi
smi=$(nvidia-smi --query-gpu=index,uuid,name,pci.bus_id,memory.total,mig.mode.current,driver_version,pcie.link.gen.current,pcie.link.gen.max,pcie.link.width.current,pcie.link.width.max --format=csv,noheader,nounits)
rc=$?
if [ $rc -ne 0 ]; then
  echo "test-gpu: nvidia-smi failed (exit $rc): $smi" >&2
  exit 1
fi

echo "test-gpu: gpufleet discover vs nvidia-smi"
same "GPU count" "$(jq '.gpus | length' <<<"$json")" "$(grep -c . <<<"$smi")"

while IFS=, read -r idx uuid name bus mem mig driver gen gen_max width width_max; do
  idx=$(trim "$idx"); uuid=$(trim "$uuid")
  g=$(jq -c --arg u "$uuid" '.gpus[] | select(.uuid == $u)' <<<"$json")
  echo "GPU $idx ($uuid)"
  if [ -z "$g" ]; then bad "GPU $idx: discover has no GPU with UUID $uuid"; continue; fi
  field() { jq -r ".$1" <<<"$g"; }
  same "index" "$(field index)" "$idx"
  same "name" "$(field name)" "$(trim "$name")"
  same "bus id" "$(busid "$(field pci_bus_id)")" "$(busid "$(trim "$bus")")"
  # both in MiB: discover floors NVML's bytes, nvidia-smi prints MiB
  d_mem=$(field memory_mib); s_mem=$(trim "$mem")
  if unknown "$s_mem"; then note "memory: nvidia-smi cannot tell"
  elif [ $(( d_mem > s_mem ? d_mem - s_mem : s_mem - d_mem )) -le 1 ]; then ok "memory: $d_mem MiB (nvidia-smi $s_mem MiB)"
  else bad "memory: discover says $d_mem MiB, nvidia-smi says $s_mem MiB"; fi
  s_mig=$(trim "$mig")
  case $s_mig in Enabled) s_mig=true;; Disabled|'[N/A]'|N/A) s_mig=false;; esac
  same "MIG mode" "$(field mig_enabled)" "$s_mig"
  same "driver version" "$(jq -r .driver_version <<<"$json")" "$(trim "$driver")"
  same_if_known "PCIe max generation" "$(field pcie_gen_max)" "$(trim "$gen_max")"
  same_if_known "PCIe max width" "$(field pcie_width_max)" "$(trim "$width_max")"
  # the current link drops to a lower generation when the GPU idles: a difference between
  # two readings a moment apart is shown, not counted
  d_gen=$(field pcie_gen); s_gen=$(trim "$gen")
  if [ "$d_gen" = "$s_gen" ]; then ok "PCIe current generation: $d_gen"; else note "PCIe current generation: discover $d_gen, nvidia-smi $s_gen (link power state)"; fi
  same_if_known "PCIe current width" "$(field pcie_width)" "$(trim "$width")"
done <<<"$smi"

if "$BIN" check --help >/dev/null 2>&1; then
  echo "test-gpu: gpufleet check (shown, not counted)"
  "$BIN" check
  echo "gpufleet check exited with $?"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
