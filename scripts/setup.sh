#!/usr/bin/env bash
# Installs what osless and its tests need on a fresh Debian 12 machine, idempotently:
#   - the Debian packages the tests use (real peers and fixture sources), when missing (needs root);
#   - node_modules from package-lock.json (npm ci), when missing or stale;
#   - with --build, the compiled CLI in dist/.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: the registry the pull/push tests run (docker-registry; openssl makes its token-auth certificate), the OCI runtimes (runc, crun) and the tracer slim uses (strace),
# peers for interop (skopeo, umoci, podman), fixture sources (gcc + libc6-dev for static
# programs, musl-tools for musl-linked ones, golang-go for Go ones, busybox-static, debootstrap; rpm and db5.3-util make rpm databases; time measures peak memory in benchmarks; chromium (driven by playwright-core) and tmux run the explorer's browser and terminal views), oracles (GNU tar, python3, xz, zstd, bzip2, file; attr for xattrs).
PACKAGES=(docker-registry runc crun strace openssl time chromium tmux fonts-dejavu-core skopeo umoci podman busybox-static debootstrap gcc libc6-dev musl-tools golang-go rpm db5.3-util tar gzip xz-utils zstd bzip2 attr python3 file ca-certificates)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp=node_modules/.osless-lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi

if [ "${1:-}" = "--build" ]; then
  npm run --silent build
fi
