#!/usr/bin/env bash
# Installs the Debian 12 packages gpufleet needs to build, test and run its demo.
# Quick (a dpkg query, no network) when everything is already present.
set -euo pipefail

PKGS=(
  build-essential pkg-config clang libclang-rt-14-dev
  libsqlite3-dev sqlite3
  libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev libssl-dev libyaml-dev
  libcmocka-dev
  openssh-server openssh-client bubblewrap
  curl procps iproute2 jq openssl wrk
  mmdebstrap umoci skopeo runc slirp4netns uidmap
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's openssh-server package starts a system sshd on port 22; gpufleet does not use it.
