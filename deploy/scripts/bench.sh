#!/usr/bin/env bash
# Benchmarks Shoal against Debian's dockerd on the same machine, in one run,
# both driving one private containerd (same containerd, same runc), with
# ../shared/bench/engine_bench.py. Prints a markdown table (summarize.py).
#
#   deploy/scripts/bench.sh [--quick] [--runs N]
#
# Needs root, docker.io, containerd, runc, busybox-static; builds shoal in release.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
bench_dir=${SHOAL_BENCH_DIR:-$here/../shared/bench}
quick=""
runs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=--quick ;;
    --runs) runs=$2; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ -f "$bench_dir/engine_bench.py" ] || { echo "engine_bench.py not found in $bench_dir" >&2; exit 1; }
command -v dockerd >/dev/null || { echo "dockerd missing: apt-get install -y docker.io" >&2; exit 1; }
cli=/usr/local/bin/docker
[ -x "$cli" ] || cli=$(command -v docker)

(cd "$here" && cargo build --release -p shoal-node)
shoal=$here/target/release/shoal

work=$(mktemp -d /tmp/shoal-bench.XXXX)
out=${SHOAL_BENCH_OUT:-$here/target/bench}
mkdir -p "$out" "$work/ctd" "$work/shoal" "$work/ref"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 2
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  # containers of both engines die with the shims
  pkill -9 -f "containerd-shim-runc-v2 -namespace (shoal-bench|moby)" 2>/dev/null || true
  umount -R "$work"/*/ 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/ctd/config.toml" <<TOML
version = 2
root = "$work/ctd/root"
state = "$work/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$work/ctd/c.sock"
[ttrpc]
  address = "$work/ctd/c.sock.ttrpc"
[debug]
  address = ""
TOML
containerd --config "$work/ctd/config.toml" > "$work/ctd/log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -S "$work/ctd/c.sock" ] && break; sleep 0.1; done

"$shoal" daemon -H "unix://$work/shoal/d.sock" --data-root "$work/shoal/data" \
  --exec-root "$work/shoal/exec" --pidfile "$work/shoal/pid" \
  --containerd "$work/ctd/c.sock" --containerd-namespace shoal-bench > "$work/shoal/log" 2>&1 &
pids+=($!)
dockerd -H "unix://$work/ref/d.sock" --data-root "$work/ref/data" --exec-root "$work/ref/exec" \
  --pidfile "$work/ref/pid" --containerd "$work/ctd/c.sock" --iptables=false --ip-forward=false \
  > "$work/ref/log" 2>&1 &
pids+=($!)

# One-layer busybox image from busybox-static, imported into both engines.
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh echo sleep true cat ls id env mkdir httpd wget; do ln -sf busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
for eng in shoal ref; do
  sock="$work/$eng/d.sock"
  for _ in $(seq 1 150); do DOCKER_HOST="unix://$sock" timeout 2 "$cli" version >/dev/null 2>&1 && break; sleep 0.2; done
  DOCKER_HOST="unix://$sock" "$cli" import --change 'CMD ["sh"]' "$work/rootfs.tar" busybox:latest >/dev/null
done

stamp=$(date +%Y%m%d-%H%M%S)
shoal_runs=()
ref_runs=()
for i in $(seq 1 "$runs"); do
  for eng in shoal ref; do
    f="$out/$eng-$stamp-$i.json"
    python3 "$bench_dir/engine_bench.py" --socket "$work/$eng/d.sock" --cli "$cli" $quick --out "$f" \
      | tee "$out/$eng-$stamp-$i.txt"
    if [ "$eng" = shoal ]; then shoal_runs+=("$f"); else ref_runs+=("$f"); fi
  done
done
join() { local IFS=,; echo "$*"; }
python3 "$bench_dir/summarize.py" "dockerd=$(join "${ref_runs[@]}")" "shoal=$(join "${shoal_runs[@]}")" \
  | tee "$out/summary-$stamp.md"
