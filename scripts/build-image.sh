#!/usr/bin/env bash
# Builds gpufleet's default pod image, reproducibly, from Debian packages: a bookworm
# minbase root filesystem made by mmdebstrap (the host's Debian apt sources), wrapped by
# hand into an OCI image layout directory whose index.json names it "default".
#
#   scripts/build-image.sh                 build unless cached; prints the layout's path
#   scripts/build-image.sh --print-path    prints the path it would use, builds nothing
#   scripts/build-image.sh --force         rebuilds even when cached
#
# Output: ${GPF_IMAGE_CACHE:-/var/cache/gpufleet/images}/default-<key>, key = the first 12
# hex digits of the SHA-256 of this script, the package list and the architecture. A
# directory with a .complete file (written last, holding the manifest digest) is used as
# it is: no network, well under a second. Builds go to a temporary directory beside it
# and are renamed into place, so a crash never leaves a half image under the final name.
# Progress goes to stderr, the path alone to stdout. Needs root (mmdebstrap --mode=root);
# re-runs itself with sudo when not root. Exits non-zero, saying why, on any failure.
#
# Reproducible: SOURCE_DATE_EPOCH is fixed below, so the same package versions give the
# same bytes (layer, config, manifest). The layer is compressed with gzip -n (no name, no
# time stamp), never pigz, whose output differs from gzip's for the same input.
set -euo pipefail

SUITE=bookworm
PACKAGES=(bash coreutils python3 curl procps iproute2 openssh-server sudo ca-certificates less)
IMAGE_EPOCH=1735689600 # 2025-01-01T00:00:00Z: every file's mtime and the image's created
export SOURCE_DATE_EPOCH=$IMAGE_EPOCH

say() { echo "build-image: $*" >&2; }
die() { say "error: $*"; exit 1; }

force=0 print_only=0
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    --print-path) print_only=1 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--force] [--print-path]" >&2; exit 2 ;;
  esac
done

self=$(readlink -f "${BASH_SOURCE[0]}")
command -v dpkg >/dev/null || die "dpkg not found: this script builds on Debian"
deb_arch=$(dpkg --print-architecture)
oci_variant=""
case "$deb_arch" in
  amd64) oci_arch=amd64 ;;
  arm64) oci_arch=arm64 ;;
  armhf) oci_arch=arm; oci_variant=v7 ;;
  i386) oci_arch=386 ;;
  ppc64el) oci_arch=ppc64le ;;
  s390x) oci_arch=s390x ;;
  riscv64) oci_arch=riscv64 ;;
  *) die "no OCI name for the Debian architecture $deb_arch" ;;
esac

key=$({ cat "$self"; printf '%s\n' "${PACKAGES[@]}"; echo "$deb_arch"; } | sha256sum | cut -c1-12)
cache=${GPF_IMAGE_CACHE:-/var/cache/gpufleet/images}
out=$cache/default-$key

if [ "$print_only" = 1 ]; then echo "$out"; exit 0; fi
if [ "$force" = 0 ] && [ -f "$out/.complete" ]; then echo "$out"; exit 0; fi

if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "needs root (mmdebstrap --mode=root) and there is no sudo"
  say "needs root (mmdebstrap --mode=root): running it with sudo"
  exec sudo GPF_IMAGE_CACHE="$cache" bash "$self" "$@"
fi
for t in mmdebstrap jq gzip sha256sum flock umoci; do
  command -v "$t" >/dev/null || die "$t not found (scripts/install-deps.sh installs it)"
done

mkdir -p "$cache"
# One build per key at a time; a second caller waits and then finds the first one's result.
exec 9>"$cache/.default-$key.lock"
flock 9
if [ "$force" = 0 ] && [ -f "$out/.complete" ]; then echo "$out"; exit 0; fi
rm -rf "$cache/.default-$key.tmp."* # left by a build that crashed
tmp=$(mktemp -d "$cache/.default-$key.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The Debian entries (bookworm, -updates, -security) of the host's apt sources, one-line
# style: the mirror this machine reaches, without third-party repositories.
sources=$tmp/sources.list
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  case "$f" in
    *.sources) awk -v suite="$SUITE" '
      function flush(   i, n, s, u, nu, ns, opt) {
        if (types ~ /(^| )deb( |$)/ && uris != "" && tolower(enabled) != "no") {
          opt = signed ~ /^\// ? "[signed-by=" signed "] " : ""
          nu = split(uris, u, " "); ns = split(suites, s, " ")
          for (i = 1; i <= nu; i++) for (n = 1; n <= ns; n++)
            if (s[n] == suite || s[n] == suite "-updates" || s[n] == suite "-security")
              print "deb " opt u[i] " " s[n] " " comps
        }
        types = uris = suites = comps = signed = enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      { k = tolower($1); sub(/^[^:]*:[ \t]*/, ""); v = $0 }
      k == "types:" { types = v } k == "uris:" { uris = v } k == "suites:" { suites = v }
      k == "components:" { comps = v } k == "signed-by:" { signed = v } k == "enabled:" { enabled = v }
      END { flush() }' "$f" ;;
    *) awk -v suite="$SUITE" '
      $1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        s = $(i + 1); if (s == suite || s == suite "-updates" || s == suite "-security") print }' "$f" ;;
  esac
done >"$sources"
mirror_args=("$sources")
if [ ! -s "$sources" ]; then
  say "no $SUITE entries in the host's apt sources: using deb.debian.org"
  mirror_args=()
fi

# Run inside the finished tree ($1) before it is packed: no host keys (every pod gets its
# own), no apt caches or lists, a neutral hostname, hosts and no resolver (the runtime sets them),
# sources that name the public mirror whatever this host uses, and the installed versions.
hook=$(cat <<EOF
set -e
rm -f "\$1"/etc/ssh/ssh_host_*
rm -rf "\$1"/var/cache/apt/* "\$1"/var/lib/apt/lists/*
echo localhost >"\$1"/etc/hostname
chmod 644 "\$1"/etc/hostname
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"\$1"/etc/hosts
rm -f "\$1"/etc/resolv.conf
rm -f "\$1"/etc/apt/sources.list.d/* "\$1"/etc/apt/sources.list
printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: $SUITE $SUITE-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: $SUITE-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' >"\$1"/etc/apt/sources.list.d/debian.sources
chroot "\$1" dpkg-query -W -f='\${Package}=\${Version}\n' >"$tmp/packages.txt"
EOF
)

start=$(date +%s)
say "building default image (mmdebstrap, ~40 s)…"
log=$tmp/mmdebstrap.log
if ! TMPDIR=$tmp mmdebstrap --mode=root --variant=minbase --format=tar \
      --include="$(IFS=,; echo "${PACKAGES[*]}")" \
      --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/info/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-include=/usr/share/locale/locale.alias' \
      --dpkgopt='path-exclude=/usr/share/lintian/*' \
      --customize-hook="$hook" \
      "$SUITE" "$tmp/rootfs.tar" "${mirror_args[@]}" >"$log" 2>&1; then
  tail -20 "$log" >&2
  die "mmdebstrap failed (the last 20 lines of its log are above)"
fi

say "packing the OCI layout (gzip -n -6)…"
layout=$tmp/layout
mkdir -p "$layout/blobs/sha256"
diff_id=sha256:$(sha256sum <"$tmp/rootfs.tar" | cut -d' ' -f1)
gzip -n -6 <"$tmp/rootfs.tar" >"$tmp/layer"
rm -f "$tmp/rootfs.tar"

# Moves file $1 into the blob store; prints its descriptor fields "sha256:<hex> <size>".
put_blob() {
  local hex size
  hex=$(sha256sum <"$1" | cut -d' ' -f1)
  size=$(stat -c %s "$1")
  mv "$1" "$layout/blobs/sha256/$hex"
  echo "sha256:$hex $size"
}
read -r layer_digest layer_size < <(put_blob "$tmp/layer")

created=$(date -u -d "@$IMAGE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
jq -ncSj --arg arch "$oci_arch" --arg variant "$oci_variant" --arg created "$created" \
  --arg diff "$diff_id" --arg pkgs "${PACKAGES[*]}" --arg suite "$SUITE" '{
    architecture: $arch, os: "linux", created: $created,
    config: {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      Cmd: ["/bin/bash"], WorkingDir: "/",
      Labels: {"org.gpufleet.image.packages": $pkgs, "org.gpufleet.image.suite": $suite,
               "org.gpufleet.image.variant": "minbase"}
    },
    rootfs: {type: "layers", diff_ids: [$diff]},
    history: [{created: $created,
               created_by: ("gpufleet scripts/build-image.sh: mmdebstrap --variant=minbase " + $suite)}]
  } + (if $variant != "" then {variant: $variant} else {} end)' >"$tmp/config"
read -r config_digest config_size < <(put_blob "$tmp/config")

jq -ncSj --arg cd "$config_digest" --argjson cs "$config_size" --arg ld "$layer_digest" \
  --argjson ls "$layer_size" --arg created "$created" '{
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
    layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $ld, size: $ls}],
    annotations: {"org.opencontainers.image.created": $created,
                  "org.opencontainers.image.title": "gpufleet default"}
  }' >"$tmp/manifest"
read -r manifest_digest manifest_size < <(put_blob "$tmp/manifest")

jq -ncSj --arg md "$manifest_digest" --argjson ms "$manifest_size" --arg arch "$oci_arch" '{
    schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md, size: $ms,
                 platform: {architecture: $arch, os: "linux"},
                 annotations: {"org.opencontainers.image.ref.name": "default"}}]
  }' >"$layout/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
mv "$tmp/packages.txt" "$layout/packages.txt"

# It must parse for the tools that will read it.
if ! umoci stat --image "$layout:default" >"$tmp/stat.log" 2>&1; then
  cat "$tmp/stat.log" >&2
  die "umoci stat refused the layout it just built"
fi
if command -v skopeo >/dev/null && ! skopeo inspect "oci:$layout:default" >"$tmp/stat.log" 2>&1; then
  cat "$tmp/stat.log" >&2
  die "skopeo inspect refused the layout it just built"
fi

sync "$layout"/blobs/sha256/* "$layout/index.json" "$layout/oci-layout"
echo "$manifest_digest" >"$layout/.complete"
sync "$layout/.complete" "$layout"
if [ -e "$out" ]; then mv -T "$out" "$tmp/old"; fi
mv -T "$layout" "$out"
sync "$cache"
say "built in $(( $(date +%s) - start )) s: $out (manifest $manifest_digest, layer $((layer_size / 1000000)) MB gzip, $(wc -l <"$out/packages.txt") packages)"
echo "$out"
