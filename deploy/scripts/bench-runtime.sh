#!/usr/bin/env bash
# Runtime benchmark (issue 8): `docker stats --no-stream` with 50 running containers, `docker cp`
# of a 100 MB file into and out of a container, and the `docker exec c true` round trip, Shoal
# against Debian's dockerd on the same machine and the same private containerd, in one run.
# Medians of N rounds (exec: of 20 per round). Prints a markdown table.
#
#   deploy/scripts/bench-runtime.sh [--rounds N]
#
# Needs root, docker.io, containerd, runc, busybox-static; builds shoal in release unless
# SHOAL_BENCH_SKIP_BUILD is set (SHOAL_BIN picks the binary).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=deploy/scripts/bench-pair.sh
. "$here/deploy/scripts/bench-pair.sh"
bench_setup 5 "$@"

work=$(mktemp -d /tmp/shoal-runbench.XXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 2
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  # The benchmark's 100 containers: only the shims of this run's own containerd (by its
  # socket under $work), which take their containers with them.
  pkill -9 -f "containerd-shim-runc-v2 .*-address $work/" 2>/dev/null || true
  sleep 1
  grep " $work/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=deploy/scripts/private-containerd.sh
. "$here/deploy/scripts/private-containerd.sh"
start_engine_pair "$work" shoal-runbench
dk() { local h=$1; shift; DOCKER_HOST=$h "$cli" "$@"; }

mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true sleep cat; do ln -sf busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
head -c 100M /dev/urandom > "$work/blob"

now() { date +%s.%N; }
# The wall time of one command, in seconds.
timed() { local t0 t1; t0=$(now); "$@" >/dev/null; t1=$(now); echo "$t1 - $t0" | bc; }
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A stats cpin cpout exec_
for eng in shoal ref; do
  if [ $eng = shoal ]; then h=$S; else h=$R; fi
  dk "$h" import --change 'CMD ["sh"]' "$work/rootfs.tar" benchbase >/dev/null
  for i in $(seq 1 50); do
    dk "$h" run -d --network none --name "c$i" benchbase sleep 3600 >/dev/null
  done
  stats[$eng]="" cpin[$eng]="" cpout[$eng]="" exec_[$eng]=""
done
for r in $(seq 1 "$rounds"); do
  for eng in shoal ref; do
    if [ $eng = shoal ]; then h=$S; else h=$R; fi
    stats[$eng]+="$(timed dk "$h" stats --no-stream) "
    cpin[$eng]+="$(timed dk "$h" cp "$work/blob" c1:/tmp/blob) "
    rm -f "$work/out-$eng"
    cpout[$eng]+="$(timed dk "$h" cp c1:/tmp/blob "$work/out-$eng") "
    cmp -s "$work/blob" "$work/out-$eng" || { echo "$eng: docker cp round trip changed the file" >&2; exit 1; }
    e=""
    for _ in $(seq 1 20); do e+="$(timed dk "$h" exec c2 true) "; done
    exec_[$eng]+="$(echo "$e" | median) "
  done
done
row() { # row LABEL SHOAL REF TARGET
  printf '| %s | %.3f s | %.3f s | %.2fx | %s |\n' "$1" "$2" "$3" "$(echo "$2 / $3" | bc -l)" "$4"
}
echo
echo "50 running containers; $rounds rounds, medians; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| measure | Shoal | dockerd | Shoal / dockerd | target |"
echo "| --- | --- | --- | --- | --- |"
row "docker stats --no-stream, 50 containers" "$(echo "${stats[shoal]}" | median)" "$(echo "${stats[ref]}" | median)" "<= 1x"
row "docker cp of 100 MB into a container" "$(echo "${cpin[shoal]}" | median)" "$(echo "${cpin[ref]}" | median)" "<= 1x"
row "docker cp of 100 MB out of a container" "$(echo "${cpout[shoal]}" | median)" "$(echo "${cpout[ref]}" | median)" "<= 1x"
row "docker exec c true (median of 20)" "$(echo "${exec_[shoal]}" | median)" "$(echo "${exec_[ref]}" | median)" "<= 0.5x"
