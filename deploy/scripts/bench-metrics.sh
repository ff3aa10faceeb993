#!/usr/bin/env bash
# Metrics overhead (issue 11): `docker run --rm busybox true` latency with and without
# --metrics-addr, and the time to scrape /metrics with 200 containers.
#
#   deploy/scripts/bench-metrics.sh [--runs N] [--bin PATH]
#
# Needs root, containerd, runc, busybox-static, curl. Uses target/release/shoal unless --bin.
# Everything runs on temporary directories and loopback; only what it started is stopped.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
runs=30
bin=$here/target/release/shoal
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift ;;
    --bin) bin=$2; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$bin" ] || { echo "no shoal binary at $bin (cargo build --release -p shoal-node)" >&2; exit 1; }
cli=/usr/local/bin/docker
[ -x "$cli" ] || cli=$(command -v docker)
work=$(mktemp -d /tmp/shoal-bench-metrics.XXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pid=""
export DOCKER_HOST="unix://$work/d.sock" DOCKER_CONFIG="$work/cli"
stop() {
  [ -n "$pid" ] || return 0
  ids=$("$cli" ps -aq 2>/dev/null || true)
  [ -z "$ids" ] || "$cli" rm -f $ids >/dev/null 2>&1 || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
}
cleanup() { stop; umount -R "$work"/data 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
start() { # extra flags...
  "$bin" daemon -H "unix://$work/d.sock" --data-root "$work/data" --exec-root "$work/exec" \
    --pidfile "$work/pid" --containerd-namespace shoal-bench-metrics "$@" >> "$work/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do timeout 2 "$cli" version >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "daemon did not start; log:" >&2; tail -30 "$work/log" >&2; exit 1
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run_latency() {
  for _ in $(seq 1 "$runs"); do
    s=$(date +%s%N); "$cli" run --rm busybox true >/dev/null; e=$(date +%s%N)
    echo $(( (e - s) / 1000000 ))
  done | median
}
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true sleep; do ln -sf busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .

# Alternate off/on twice so machine load drifts hit both alike; report each round.
start
"$cli" import --change 'CMD ["sh"]' "$work/rootfs.tar" busybox:latest >/dev/null
"$cli" run --rm busybox true >/dev/null # warm-up
off1=$(run_latency)
stop
start --metrics-addr "127.0.0.1:$port"
on1=$(run_latency)
stop
start
off2=$(run_latency)
stop
start --metrics-addr "127.0.0.1:$port"
on2=$(run_latency)
for i in $(seq 1 200); do "$cli" create --name "m$i" busybox true >/dev/null; done
curl -fsS "http://127.0.0.1:$port/metrics" >/dev/null
scrape=$(for _ in $(seq 1 50); do
  curl -fsS -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/metrics"
done | awk '{printf "%.2f\n", $1*1000}' | median)
echo "| docker run --rm, metrics off (median of $runs, two rounds) | ${off1} ms, ${off2} ms |"
echo "| docker run --rm, metrics on (median of $runs, two rounds) | ${on1} ms, ${on2} ms |"
echo "| GET /metrics with 200 containers (median of 50) | ${scrape} ms |"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
