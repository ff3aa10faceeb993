#!/usr/bin/env bash
# Registry benchmark (issue 9): Shoal against Debian's dockerd on the same machine, in one run.
# Builds a 5-layer image of about 100 MB (busybox plus four 25 MB layers of random data, made with
# docker commit on Shoal), pushes it to a loopback docker-registry, then times, for each engine:
# a pull of it from an empty local store (wall time, and the daemon's peak RSS sampled every 50 ms)
# and a push of it to an empty registry of its own. Prints a markdown table.
#
#   deploy/scripts/bench-registry.sh [--rounds N]
#
# Needs root, docker.io, docker-registry, containerd, runc, busybox-static; builds shoal in release.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=deploy/scripts/bench-pair.sh
. "$here/deploy/scripts/bench-pair.sh"
bench_setup 2 "$@"
command -v docker-registry >/dev/null || { echo "apt-get install -y docker-registry" >&2; exit 1; }

work=$(mktemp -d /tmp/shoal-regbench.XXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 2
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  umount -R "$work"/*/ 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
registry() { # name -> starts a registry, prints its host
  local name=$1 port
  port=$(free_port)
  mkdir -p "$work/$name"
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$work/$name" "$port" > "$work/$name/config.yml"
  docker-registry serve "$work/$name/config.yml" > "$work/$name/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  REG_HOST="127.0.0.1:$port"
}

mkdir -p "$work/ctd" "$work/shoal" "$work/ref"
# shellcheck source=deploy/scripts/private-containerd.sh
. "$here/deploy/scripts/private-containerd.sh"
start_private_containerd "$work/ctd"
"$shoal" daemon -H "unix://$work/shoal/d.sock" --data-root "$work/shoal/data" \
  --exec-root "$work/shoal/exec" --pidfile "$work/shoal/pid" \
  --containerd "$work/ctd/c.sock" --containerd-namespace shoal-regbench > "$work/shoal/log" 2>&1 &
shoal_pid=$!
pids+=($shoal_pid)
dockerd -H "unix://$work/ref/d.sock" --data-root "$work/ref/data" --exec-root "$work/ref/exec" \
  --pidfile "$work/ref/pid" --containerd "$work/ctd/c.sock" --iptables=false --ip-forward=false \
  --bridge=none > "$work/ref/log" 2>&1 &
ref_pid=$!
pids+=($ref_pid)
S="unix://$work/shoal/d.sock"
R="unix://$work/ref/d.sock"
for h in "$S" "$R"; do
  for _ in $(seq 1 150); do DOCKER_HOST=$h timeout 2 "$cli" version >/dev/null 2>&1 && break; sleep 0.2; done
done
dk() { local h=$1; shift; DOCKER_HOST=$h "$cli" "$@"; }

registry src; SRC=$REG_HOST
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh head cat ls true; do ln -sf busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
dk "$S" import --change 'CMD ["sh"]' "$work/rootfs.tar" layer0 >/dev/null
img=layer0
for i in 1 2 3 4; do
  dk "$S" run --name "mk$i" "$img" sh -c "head -c 26214400 /dev/urandom > /data$i"
  dk "$S" commit "mk$i" "layer$i" >/dev/null
  dk "$S" rm "mk$i" >/dev/null
  img=layer$i
done
image="$SRC/bench:v1"
dk "$S" tag "$img" "$image"
dk "$S" push "$image" >/dev/null
for i in 0 1 2 3 4; do dk "$S" rmi "layer$i" >/dev/null 2>&1 || true; done
dk "$S" rmi "$image" >/dev/null
size=$(du -sb "$work/src/data" | cut -f1)

now() { date +%s.%N; }
peak_rss() { # pid outfile: samples VmRSS (kB) until killed
  local max=0 v
  while :; do
    v=$(awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0)
    [ "${v:-0}" -gt "$max" ] && max=$v && echo "$max" > "$2"
    sleep 0.05
  done
}
declare -A pull push rss
for eng in shoal ref; do pull[$eng]=""; push[$eng]=""; rss[$eng]=""; done
for r in $(seq 1 "$rounds"); do
  for eng in shoal ref; do
    if [ $eng = shoal ]; then h=$S; pid=$shoal_pid; else h=$R; pid=$ref_pid; fi
    dk "$h" rmi "$image" >/dev/null 2>&1 || true
    dk "$h" image prune -af >/dev/null 2>&1 || true
    peak_rss "$pid" "$work/rss-$eng" & sampler=$!
    t0=$(now); dk "$h" pull -q "$image" >/dev/null; t1=$(now)
    kill "$sampler"; wait "$sampler" 2>/dev/null || true
    pull[$eng]+="$(echo "$t1 - $t0" | bc) "
    rss[$eng]+="$(( $(cat "$work/rss-$eng") / 1024 )) "
    registry "push-$eng-$r"
    dk "$h" tag "$image" "$REG_HOST/bench:v1"
    t0=$(now); dk "$h" push -q "$REG_HOST/bench:v1" >/dev/null; t1=$(now)
    push[$eng]+="$(echo "$t1 - $t0" | bc) "
    dk "$h" rmi "$REG_HOST/bench:v1" >/dev/null
  done
done
best() { tr ' ' '\n' | grep -v '^$' | sort -n | head -1; }
ps=$(echo "${pull[shoal]}" | best); pr=$(echo "${pull[ref]}" | best)
us=$(echo "${push[shoal]}" | best); ur=$(echo "${push[ref]}" | best)
ms=$(echo "${rss[shoal]}" | tr ' ' '\n' | grep -v '^$' | sort -n | tail -1)
mr=$(echo "${rss[ref]}" | tr ' ' '\n' | grep -v '^$' | sort -n | tail -1)
echo
echo "image: 5 layers, $(( size / 1048576 )) MiB in the registry; $rounds rounds, best wall time; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| measure | Shoal | dockerd | Shoal / dockerd | target |"
echo "| --- | --- | --- | --- | --- |"
printf '| pull, 5 layers (~100 MB), loopback registry | %.2f s | %.2f s | %.2fx | <= 0.7x |\n' "$ps" "$pr" "$(echo "$ps / $pr" | bc -l)"
printf '| push of the same to an empty registry | %.2f s | %.2f s | %.2fx | <= 1x |\n' "$us" "$ur" "$(echo "$us / $ur" | bc -l)"
printf '| daemon peak RSS during the pull | %s MiB | %s MiB | | < 64 MiB |\n' "$ms" "$mr"
echo "(all rounds: pull shoal ${pull[shoal]}/ dockerd ${pull[ref]}; push shoal ${push[shoal]}/ dockerd ${push[ref]}; rss shoal ${rss[shoal]}/ dockerd ${rss[ref]})"
