# Sourced by the benchmark scripts: starts a containerd of their own under "$1" (config, root,
# state, socket "$1/c.sock"), records its PID in the caller's `pids` array so the caller's
# cleanup stops it (and only it), and waits for its socket.
start_private_containerd() {
  local dir=$1
  mkdir -p "$dir"
  cat > "$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$dir/c.sock"
[ttrpc]
  address = "$dir/c.sock.ttrpc"
[debug]
  address = ""
TOML
  containerd --config "$dir/config.toml" > "$dir/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do [ -S "$dir/c.sock" ] && break; sleep 0.1; done
}
