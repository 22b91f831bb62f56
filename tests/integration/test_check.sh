#!/usr/bin/env bash
# `gpufleet check` end to end: the fake backend's 8 x H100 host against sysfs fixture trees
# this script writes (one socket or two, IOMMU off or on); exit codes 0/1/2 for
# pass/warn/fail, the findings and fixes in the table and in --json, usage errors.
source "$(dirname "$0")/lib.sh"
G="$GPF_BIN"

sysfs() { # sysfs DIR NODES IOMMU(0|1)
  local d=$1
  mkdir -p "$d/sys/devices/system/cpu"
  echo "0-63" > "$d/sys/devices/system/cpu/online"
  if [ "$2" = 2 ]; then
    mkdir -p "$d/sys/devices/system/node/node0" "$d/sys/devices/system/node/node1"
    echo "0-31" > "$d/sys/devices/system/node/node0/cpulist"
    echo "32-63" > "$d/sys/devices/system/node/node1/cpulist"
  fi
  [ "$3" = 1 ] && mkdir -p "$d/sys/kernel/iommu_groups/7/devices"
  return 0
}
run() { # run NAME ARGS...: output in $T/NAME.out, exit code in RC
  "$G" check --backend fake --host-id gpu-h100-a "${@:2}" >"$T/$1.out" 2>"$T/$1.err"
  RC=$?
}

sysfs "$T/one" 1 0
sysfs "$T/two" 2 1

echo "[check] bare metal on one socket"
run bare --sysfs-root "$T/one"
expect_eq "a healthy bare-metal host passes (exit 0)" 0 "$RC"
expect_match "the summary counts the checks" '^[0-9]+ passed, 0 warned, 0 failed, [0-9]+ skipped: PASS$' "$(tail -1 "$T/bare.out")"

echo "[check] passthrough: IOMMU off and VMs with too little MMIO"
run pt --sysfs-root "$T/one" --deploy-mode passthrough --vm-mmio-gb 128
expect_eq "fails (exit 2)" 2 "$RC"
expect_match "names the IOMMU" 'fail +iommu +- +IOMMU is off, but passthrough needs it' "$(cat "$T/pt.out")"
expect_match "names the MMIO shortfall" 'VMs get 128 GB of MMIO; H100-80GB-SXM5 needs 256 GB per VM' "$(cat "$T/pt.out")"
expect_match "gives the IOMMU fix" 'iommu: enable VT-d' "$(cat "$T/pt.out")"

echo "[check] passthrough with the IOMMU on, MMIO size not given"
run warn --sysfs-root "$T/two" --deploy-mode passthrough
expect_eq "warns (exit 1)" 1 "$RC"
expect_match "asks for the VMs' MMIO size" 'needs 256 GB of MMIO per VM .* not given' "$(cat "$T/warn.out")"

echo "[check] pods confined to socket 0 of a two-socket host"
run numa --sysfs-root "$T/two" --pod-cpus 0-31 --json
expect_eq "fails (exit 2): GPUs on node 1 have no local pod CPUs" 2 "$RC"
expect_match "--json carries the verdict" '"verdict": "fail"' "$(cat "$T/numa.out")"
expect_match "--json carries the NUMA finding for GPU 4" '"check": "numa",[^}]*"level": "fail",[^}]*"gpu": 4' \
  "$(tr -d '\n' < "$T/numa.out")"
run numa_ok --sysfs-root "$T/two" --pod-cpus 0-63
expect_eq "passes with CPUs of both nodes" 0 "$RC"

echo "[check] usage and environment errors"
run bad --bogus
expect_eq "an unknown option is a usage error (exit 64)" 64 "$RC"
run badmode --sysfs-root "$T/one" --deploy-mode kvm
expect_eq "an unknown deploy mode is a usage error (exit 64)" 64 "$RC"
expect_match "and says which modes exist" "unknown deploy mode 'kvm'" "$(cat "$T/badmode.err")"
"$G" check --backend nvml --nvml-lib "$T/none/libnvidia-ml.so.1" --sysfs-root "$T/one" >"$T/nonvml.out" 2>&1
RC=$?
expect_eq "no NVIDIA library is a failing finding (exit 2)" 2 "$RC"
expect_match "that says so" 'cannot discover GPUs' "$(cat "$T/nonvml.out")"
run nosys --sysfs-root "$T/missing"
expect_eq "an unreadable sysfs skips its checks, not the run (exit 0)" 0 "$RC"
expect_match "and says so" 'sysfs not read' "$(cat "$T/nosys.err")"

finish
