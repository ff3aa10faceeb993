#!/usr/bin/env bash
# Cheap guard for the dependency rules in STYLE.md: fails when a crate or
# module imports what it must not.
set -euo pipefail
cd "$(dirname "$0")/../.."
fail=0
check() { # description, pattern, paths...
  local what=$1 pat=$2; shift 2
  if hits=$(grep -rnE "$pat" "$@" 2>/dev/null); then
    echo "layering: $what"; echo "$hits"; fail=1
  fi
}
check "containerd_client is imported outside node/src/runtime" 'containerd_client' \
  --include='*.rs' node/src/engine node/src/image node/src/backends node/src/daemon.rs node/src/main.rs api scheduler raft
check "rtnetlink is imported outside node/src/network" 'rtnetlink' --include='*.rs' api scheduler raft node/src/engine node/src/runtime node/src/image
check "the api crate uses node, raft, scheduler or containerd" '^use .*(shoal_node|shoal_raft|shoal_scheduler|containerd)|containerd_client::' --include='*.rs' api/src
check "the scheduler crate uses I/O crates" 'use (tokio|tonic|sled|axum|containerd_client)' --include='*.rs' scheduler/src
check "the engine reaches into the cluster" 'crate::(cluster|manager|agent)' --include='*.rs' node/src/engine
exit $fail
