#!/usr/bin/env bash
# Builds the OCI image (deploy/oci/build.sh, with buildah) from a built `shonin` and starts it
# with podman as the operator guide says: read-only root file system, a tmpfs on /tmp, the data
# directory as a volume, the unprivileged user 65532. Checks that it answers /readyz over TLS,
# that its process runs as uid 65532 and that its root is read-only, then stops it by its ID.
# Image storage is private to this run (--root/--runroot in a temp dir) and removed after.
# Usage: scripts/oci_check.sh SHONIN_BINARY
set -euo pipefail
BIN=$(realpath "$1")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/shonin-oci-check.XXXXXX")
STORE=(--root "$W/storage" --runroot "$W/run" --storage-driver vfs)
# This machine is itself a container: crun refuses its cgroup layout and rlimits, so runc with
# cgroupfs and rlimits within the current hard limits.
RUN=(--runtime runc --cgroup-manager cgroupfs)
CID=""
cleanup() {
  if [[ -n $CID ]]; then
    podman "${STORE[@]}" "${RUN[@]}" stop -t 5 "$CID" >/dev/null 2>&1 || true
    podman "${STORE[@]}" "${RUN[@]}" rm -f "$CID" >/dev/null 2>&1 || true
  fi
  podman "${STORE[@]}" unshare true >/dev/null 2>&1 || true
  rm -rf "$W" 2>/dev/null || true
}
trap cleanup EXIT
fail() { echo "oci check: $*" >&2; exit 1; }

"$ROOT/deploy/oci/build.sh" "$BIN" localhost/shonin:check "${STORE[@]}" >"$W/build.log" 2>&1 ||
  { tail -20 "$W/build.log" >&2; fail "the image did not build"; }
echo "image: $(podman "${STORE[@]}" image inspect -f '{{.Id}} {{.Size}} bytes' localhost/shonin:check)"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
install -d -m 0700 -o 65532 -g 65532 "$W/data"
# Limits below the machine's own (podman's defaults, the host's, are refused here).
nofile=1024 nproc=4096
CID=$(podman "${STORE[@]}" "${RUN[@]}" run -d --read-only --tmpfs /tmp --network host \
  --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" \
  -v "$W/data:/var/lib/shonin" -e "SHONIN_SERVER__LISTEN=127.0.0.1:$port" \
  localhost/shonin:check --dev serve)
ready=""
for _ in $(seq 1 100); do
  if [[ -s $W/data/tls/dev-ca.pem ]] &&
    ready=$(curl -fsS --cacert "$W/data/tls/dev-ca.pem" "https://localhost:$port/readyz" 2>/dev/null); then
    break
  fi
  sleep 0.2
done
[[ -n $ready ]] || { podman "${STORE[@]}" logs "$CID" 2>&1 | tail -20 >&2; fail "/readyz did not answer"; }
echo "readyz: $ready"
pid=$(podman "${STORE[@]}" "${RUN[@]}" inspect -f '{{.State.Pid}}' "$CID")
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
[[ $uid == 65532 ]] || fail "the server runs as uid $uid, not 65532"
[[ $(podman "${STORE[@]}" "${RUN[@]}" inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$CID") == true ]] ||
  fail "the root file system is not read-only"
echo "oci: the image runs as uid 65532 on a read-only root and answers /readyz"
