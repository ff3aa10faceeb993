#!/usr/bin/env bash
# Shoal's first command: install what is missing, build the release binary, and start a node in
# the foreground on the embedded default (Shoal runs its own containerd; nothing to configure).
#
#   sudo deploy/scripts/install.sh                 # install, build, run `shoal daemon`
#   sudo deploy/scripts/install.sh --deps-only     # only install the system packages
#   sudo deploy/scripts/install.sh -- --debug      # extra flags after `--` go to `shoal daemon`
#
# Then, in another shell:  export DOCKER_HOST=unix:///run/shoal/docker.sock; docker run --rm busybox echo hi
# (pull from a registry you can reach, or `docker load` / deploy/scripts/busybox-image.sh first).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEPS_ONLY=0
DAEMON_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --deps-only) DEPS_ONLY=1 ;;
    --) shift; DAEMON_ARGS=("$@"); break ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (Shoal mounts filesystems and runs containerd): sudo $0" >&2
  exit 1
fi

# What Shoal and its tests need at run time, and to build.
PACKAGES=(containerd runc protobuf-compiler busybox-static tmux iproute2 iptables nftables curl
          docker-compose tini
          util-linux procps ca-certificates gcc pkg-config)
# The docker CLI users drive Shoal with, and (with SHOAL_WITH_DOCKERD=1, as the test command sets)
# the reference dockerd the compatibility tests compare against: Debian's docker.io provides both,
# unless Docker's own docker-ce packages are installed (they conflict with it).
need_cli=0; need_dockerd=0
command -v docker >/dev/null 2>&1 || need_cli=1
if [ "${SHOAL_WITH_DOCKERD:-0}" = 1 ] && ! command -v dockerd >/dev/null 2>&1 && [ ! -x /usr/sbin/dockerd ]; then
  need_dockerd=1
fi
if [ $need_cli = 1 ] || [ $need_dockerd = 1 ]; then
  if dpkg-query -W -f='${Status}\n' 'docker-ce*' 2>/dev/null | grep -q "install ok installed"; then
    echo "install.sh: docker-ce packages are installed; not adding docker.io (install docker-ce for dockerd)" >&2
  else
    PACKAGES+=(docker.io)
  fi
fi
PACKAGES+=(${SHOAL_EXTRA_PACKAGES:-})

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install.sh: installing ${missing[*]}"
  # Keep package scripts from starting system containerd/dockerd services: Shoal runs its own.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  status=0
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" || status=$?
  [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  if [ "$status" -ne 0 ]; then
    echo "install.sh: apt-get failed ($status)" >&2
    exit "$status"
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "install.sh: cargo not found; install Rust 1.85 or newer with rustup (https://rustup.rs), then rerun" >&2
  exit 1
fi

[ "$DEPS_ONLY" = 1 ] && exit 0

cd "$ROOT"
cargo build --release -p shoal-node
mkdir -p /run/shoal /var/lib/shoal
echo "install.sh: starting Shoal; in another shell: export DOCKER_HOST=unix:///run/shoal/docker.sock"
exec "$ROOT/target/release/shoal" daemon "${DAEMON_ARGS[@]}"
