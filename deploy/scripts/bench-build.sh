#!/usr/bin/env bash
# Build benchmark (issue 9): a cached rebuild of a 10-step Dockerfile with the classic builder
# (DOCKER_BUILDKIT=0), Shoal against Debian's dockerd on the same machine and the same private
# containerd, in one run. Each engine builds once to fill its cache, then rebuilds N times; the
# best wall time of `docker build` is reported. Prints a markdown table.
#
#   deploy/scripts/bench-build.sh [--rounds N]
#
# Needs root, docker.io, containerd, runc, busybox-static; builds shoal in release unless
# SHOAL_BENCH_SKIP_BUILD is set (SHOAL_BIN picks the binary).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=deploy/scripts/bench-pair.sh
. "$here/deploy/scripts/bench-pair.sh"
bench_setup 5 "$@"

work=$(mktemp -d /tmp/shoal-buildbench.XXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 2
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  umount -R "$work"/*/ 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/ctx"
# shellcheck source=deploy/scripts/private-containerd.sh
. "$here/deploy/scripts/private-containerd.sh"
start_engine_pair "$work" shoal-buildbench
dk() { local h=$1; shift; DOCKER_HOST=$h DOCKER_BUILDKIT=0 "$cli" "$@"; }

mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh echo cat ls true mkdir; do ln -sf busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
echo "some data" > "$work/ctx/data.txt"
cat > "$work/ctx/Dockerfile" <<'DF'
FROM benchbase
ARG V=1
ENV APP=/app
WORKDIR /app
COPY data.txt ./
RUN echo "built $V" > /app/built
LABEL bench=build
EXPOSE 8080
USER 1000
CMD ["cat", "/app/built"]
DF
now() { date +%s.%N; }
declare -A times
for eng in shoal ref; do
  if [ $eng = shoal ]; then h=$S; else h=$R; fi
  dk "$h" import --change 'CMD ["sh"]' "$work/rootfs.tar" benchbase >/dev/null
  dk "$h" build --network none -t bench:v1 "$work/ctx" >/dev/null 2>&1
  times[$eng]=""
done
for r in $(seq 1 "$rounds"); do
  for eng in shoal ref; do
    if [ $eng = shoal ]; then h=$S; else h=$R; fi
    t0=$(now); dk "$h" build --network none -t bench:v1 "$work/ctx" > "$work/out-$eng" 2>&1; t1=$(now)
    grep -q "Using cache" "$work/out-$eng" || { echo "$eng: rebuild was not cached" >&2; cat "$work/out-$eng" >&2; exit 1; }
    times[$eng]+="$(echo "$t1 - $t0" | bc) "
  done
done
best() { tr ' ' '\n' | grep -v '^$' | sort -n | head -1; }
bs=$(echo "${times[shoal]}" | best); br=$(echo "${times[ref]}" | best)
echo
echo "10-step Dockerfile, cached rebuild; $rounds rounds, best wall time; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| measure | Shoal | dockerd | Shoal / dockerd | target |"
echo "| --- | --- | --- | --- | --- |"
printf '| cached rebuild, 10 steps | %.3f s | %.3f s | %.2fx | <= 0.5x |\n' "$bs" "$br" "$(echo "$bs / $br" | bc -l)"
