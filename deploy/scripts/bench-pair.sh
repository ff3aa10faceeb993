# shellcheck shell=bash
# Sourced by the benchmarks that compare Shoal with Debian's dockerd on one private containerd.
#
# bench_setup DEFAULT_ROUNDS ARGS...: parses `--rounds N` into `rounds`, checks for dockerd, sets
# `cli` (the docker CLI) and `shoal` (SHOAL_BIN, or the release build it makes unless
# SHOAL_BENCH_SKIP_BUILD is set). Needs `here` (the repository root).
bench_setup() {
  rounds=$1
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --rounds) rounds=$2; shift ;;
      *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
  done
  command -v dockerd >/dev/null || { echo "dockerd missing: apt-get install -y docker.io" >&2; exit 1; }
  cli=/usr/local/bin/docker
  [ -x "$cli" ] || cli=$(command -v docker)
  [ -n "${SHOAL_BENCH_SKIP_BUILD:-}" ] || (cd "$here" && cargo build --release -p shoal-node)
  shoal=${SHOAL_BIN:-$here/target/release/shoal}
}

# start_engine_pair WORK NAMESPACE starts both daemons under WORK (without networking), waits
# until they answer and sets S and R to their DOCKER_HOST values; their PIDs are appended to the
# caller's `pids` array (the caller's cleanup stops them). Needs `shoal` and `cli` set and
# private-containerd.sh sourced.
start_engine_pair() {
  local work=$1 ns=$2 h
  mkdir -p "$work/ctd" "$work/shoal" "$work/ref"
  start_private_containerd "$work/ctd"
  "$shoal" daemon -H "unix://$work/shoal/d.sock" --data-root "$work/shoal/data" \
    --exec-root "$work/shoal/exec" --pidfile "$work/shoal/pid" --bridge none \
    --containerd "$work/ctd/c.sock" --containerd-namespace "$ns" > "$work/shoal/log" 2>&1 &
  pids+=($!)
  dockerd -H "unix://$work/ref/d.sock" --data-root "$work/ref/data" --exec-root "$work/ref/exec" \
    --pidfile "$work/ref/pid" --containerd "$work/ctd/c.sock" --iptables=false --ip-forward=false \
    --bridge=none > "$work/ref/log" 2>&1 &
  pids+=($!)
  S="unix://$work/shoal/d.sock"
  R="unix://$work/ref/d.sock"
  for h in "$S" "$R"; do
    for _ in $(seq 1 150); do DOCKER_HOST=$h timeout 2 "$cli" version >/dev/null 2>&1 && break; sleep 0.2; done
  done
}
