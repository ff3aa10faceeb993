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
# Both engines get real networking on bridges and rule chains of their own (never docker0 or
# Shoal's default ones); dockerd's global DOCKER* chains are removed only if this run made them.
shoal_br=shbench0 ref_br=shbref0 shoal_chains=SHOALBENCH
had_docker_chains=$(iptables -w -t nat -S 2>/dev/null | grep -c '^-N DOCKER' || true)
ip link add "$ref_br" type bridge 2>/dev/null || true
ip addr add 10.227.1.1/24 dev "$ref_br" 2>/dev/null || true
ip link set "$ref_br" up
# Forwarding already on keeps dockerd from setting the FORWARD policy to DROP.
echo 1 > /proc/sys/net/ipv4/ip_forward
net_cleanup() {
  ip link del "$shoal_br" 2>/dev/null || true
  ip link del "$ref_br" 2>/dev/null || true
  for t in nat filter; do
    iptables -w -t $t -S | grep '^-A ' | grep -- "-j $shoal_chains-" | sed 's/^-A //' |
      while read -r r; do iptables -w -t $t -D $r; done
    iptables -w -t $t -S | grep "^-N $shoal_chains-" | while read -r _n c; do
      iptables -w -t $t -F "$c"; iptables -w -t $t -X "$c"; done
  done
  if [ "$had_docker_chains" = 0 ]; then
    for t in nat filter; do
      iptables -w -t $t -S | grep '^-A ' | grep -- '-j DOCKER' | sed 's/^-A //' |
        while read -r r; do iptables -w -t $t -D $r; done
      iptables -w -t $t -S | grep '^-N DOCKER' | while read -r _n c; do
        iptables -w -t $t -F "$c"; done
      iptables -w -t $t -S | grep '^-N DOCKER' | while read -r _n c; do
        iptables -w -t $t -X "$c"; done
    done
  fi
}
cleanup() {
  # Each engine removes its own containers first.
  for eng in shoal ref; do
    sock="$work/$eng/d.sock"
    [ -S "$sock" ] || continue
    ids=$(DOCKER_HOST="unix://$sock" timeout 30 "$cli" ps -aq 2>/dev/null || true)
    [ -z "$ids" ] || DOCKER_HOST="unix://$sock" timeout 120 "$cli" rm -f $ids >/dev/null 2>&1 || true
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 2
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  # Shims left over belong to the private containerd started above: only those whose
  # command line names its socket are stopped (never another engine's, e.g. a real
  # dockerd's "moby" shims on this machine).
  for p in $(pgrep -f -- "-address $work/ctd/c.sock" 2>/dev/null || true); do
    kill -9 "$p" 2>/dev/null || true
  done
  umount -R "$work"/*/ 2>/dev/null || true
  rm -rf "$work"
  net_cleanup
}
trap cleanup EXIT

# shellcheck source=deploy/scripts/private-containerd.sh
. "$here/deploy/scripts/private-containerd.sh"
start_private_containerd "$work/ctd"

"$shoal" daemon -H "unix://$work/shoal/d.sock" --data-root "$work/shoal/data" \
  --exec-root "$work/shoal/exec" --pidfile "$work/shoal/pid" \
  --containerd "$work/ctd/c.sock" --containerd-namespace shoal-bench \
  --bridge "$shoal_br" --bip 10.227.0.1/24 --default-address-pool base=10.227.16.0/20,size=24 \
  --iptables-chain-prefix "$shoal_chains" > "$work/shoal/log" 2>&1 &
pids+=($!)
dockerd -H "unix://$work/ref/d.sock" --data-root "$work/ref/data" --exec-root "$work/ref/exec" \
  --pidfile "$work/ref/pid" --containerd "$work/ctd/c.sock" --bridge="$ref_br" \
  --default-address-pool base=10.227.32.0/20,size=24 --iptables=true --ip-forward=true \
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
    # The probe finds dockerd as the socket's owner but not Shoal: give both PIDs.
    pid_args=()
    [ -s "$work/$eng/pid" ] && pid_args=(--pid "$(cat "$work/$eng/pid")")
    python3 "$bench_dir/engine_bench.py" --socket "$work/$eng/d.sock" --cli "$cli" $quick --out "$f" \
      "${pid_args[@]}" \
      | tee "$out/$eng-$stamp-$i.txt"
    if [ "$eng" = shoal ]; then shoal_runs+=("$f"); else ref_runs+=("$f"); fi
  done
done
join() { local IFS=,; echo "$*"; }
python3 "$bench_dir/summarize.py" "dockerd=$(join "${ref_runs[@]}")" "shoal=$(join "${shoal_runs[@]}")" \
  | tee "$out/summary-$stamp.md"
