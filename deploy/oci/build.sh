#!/usr/bin/env bash
# Builds the OCI image of deploy/oci/Containerfile from a built `shonin` binary, with buildah and
# no base image: the build context's rootfs/ holds the binary, the shared libraries `ldd` names
# for it (glibc and the loader), the CA bundle, /etc/passwd and /etc/group with the user `shonin` (65532) and an
# empty /var/lib/shonin owned by it.
# Usage: deploy/oci/build.sh BINARY TAG [BUILDAH_OPTIONS...]
set -euo pipefail
BIN=$(realpath "$1")
TAG=$2
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
CTX=$(mktemp -d "${TMPDIR:-/tmp}/shonin-oci.XXXXXX")
trap 'rm -rf "$CTX"' EXIT
R=$CTX/rootfs
install -d "$R/usr/local/bin" "$R/etc" "$R/tmp"
install -m 0755 "$BIN" "$R/usr/local/bin/shonin"
# The libraries the binary loads, at the paths it looks for them.
ldd "$BIN" | awk '/=> \// {print $3} /^\s*\/[^ ]+ \(/ {print $1}' | sort -u | while read -r lib; do
  install -D -m 0644 "$lib" "$R$lib"
  real=$(readlink -f "$lib")
  [[ "$real" == "$lib" ]] || install -D -m 0644 "$real" "$R$real"
done
chmod 0755 "$R"/lib*/ld-linux* "$R"/lib*/*/ld-linux* 2>/dev/null || true
# The public web PKI's roots, for a client's https jwks_uri (Debian's ca-certificates bundle).
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[[ -s $CA_BUNDLE ]] || { echo "build.sh: no CA bundle at $CA_BUNDLE (apt-get install ca-certificates)" >&2; exit 1; }
install -D -m 0644 "$CA_BUNDLE" "$R/etc/ssl/certs/ca-certificates.crt"
printf 'shonin:x:65532:65532:shonin:/var/lib/shonin:/sbin/nologin\n' >"$R/etc/passwd"
printf 'shonin:x:65532:\n' >"$R/etc/group"
install -d -m 0700 -o 65532 -g 65532 "$R/var/lib/shonin"
chmod 1777 "$R/tmp"
cp "$HERE/Containerfile" "$CTX/Containerfile"
buildah bud "$@" --layers=false -t "$TAG" -f "$CTX/Containerfile" "$CTX"
