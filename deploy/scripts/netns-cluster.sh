#!/usr/bin/env bash
# A swarm of N managers and M workers on one machine: each node is a "host" in its own network
# namespace, with its own address, data dir, exec-root and daemon (shoal with its embedded
# containerd, or dockerd as the reference), joined with the real `docker swarm` commands.
#
#   sudo deploy/scripts/netns-cluster.sh up 3 2                 # 3 managers + 2 workers of shoal
#   sudo deploy/scripts/netns-cluster.sh up 3 2 --engine dockerd
#   sudo deploy/scripts/netns-cluster.sh env m1                 # export DOCKER_HOST=… for node m1
#   sudo deploy/scripts/netns-cluster.sh down                   # nothing left behind
#
# Layout (NAME defaults to "shoal", NET to 10.77.0; both can be set in the environment so several
# clusters can coexist):
#
#   root namespace: bridge NAME-br (NET.1/24), iptables FORWARD accepts its traffic and refuses
#   what it would forward to other interfaces
#     ├─ veth NAME-m1 ──► netns NAME-m1: eth0 NET.11, lo up; daemon -H unix://DIR/m1/d.sock
#     ├─ veth NAME-m2 ──► netns NAME-m2: eth0 NET.12 …
#     └─ veth NAME-w1 ──► netns NAME-w1: eth0 NET.21 …
#
# Managers are m1..mN (NET.11..), workers w1..wM (NET.21..). DIR is /tmp/NAME-cluster (short, so
# socket paths stay far below the 108-byte limit). Each daemon runs under
# `nsenter --net=/run/netns/…` (not `ip netns exec`, which remounts /sys and hides the cgroup tree
# from containerd and runc) plus `unshare --uts` so every node has its own hostname (m1, w1, …).
# The docker CLI talks to each node's unix socket from the root namespace.
set -euo pipefail

NAME="${NAME:-shoal}"
NET="${NET:-10.77.0}"
DIR="${DIR:-/tmp/$NAME-cluster}"
BR="$NAME-br"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DOCKER="${DOCKER:-$(command -v docker || echo /usr/local/bin/docker)}"

die() { echo "netns-cluster: $*" >&2; exit 1; }
log() { echo "netns-cluster: $*" >&2; }

usage() {
	sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}

# node_ip m1 -> NET.11, w2 -> NET.22
node_ip() {
	local role="${1:0:1}" idx="${1:1}"
	if [ "$role" = m ]; then echo "$NET.$((10 + idx))"; else echo "$NET.$((20 + idx))"; fi
}

dk() { # dk NODE ARGS...: the docker CLI against one node
	local n="$1"
	shift
	DOCKER_HOST="unix://$DIR/$n/d.sock" "$DOCKER" "$@"
}

start_daemon() { # start_daemon NODE ENGINE
	local n="$1" engine="$2" d="$DIR/$1"
	mkdir -p "$d/data" "$d/x"
	[ -f "$d/daemon.json" ] || echo '{}' >"$d/daemon.json"
	local -a cmd
	if [ "$engine" = dockerd ]; then
		# Keep the reference daemon off the machine's networking; live-restore is incompatible with
		# swarm mode, so it is not set here.
		cmd=(/usr/sbin/dockerd --iptables=false --ip-forward=false --bridge=none)
	else
		cmd=("${SHOAL_BIN:-$ROOT/target/debug/shoal}" daemon)
	fi
	cmd+=(-H "unix://$d/d.sock" --data-root "$d/data" --exec-root "$d/x" --pidfile "$d/pid"
		--config-file "$d/daemon.json" --log-level debug)
	[ -x "${cmd[0]}" ] || die "${cmd[0]} not found (build shoal with: cargo build -p shoal-node)"
	echo "$engine" >"$d/engine"
	nsenter --net="/run/netns/$NAME-$n" unshare --uts -- \
		sh -c 'hostname "$0" && exec "$@"' "$n" "${cmd[@]}" \
		</dev/null >>"$d/daemon.log" 2>&1 &
	echo $! >"$d/launcher.pid"
}

wait_ready() { # wait_ready NODE
	local i
	for i in $(seq 1 600); do
		if dk "$1" version --format '{{.Server.Version}}' >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	tail -n 50 "$DIR/$1/daemon.log" >&2 || true
	die "node $1 did not answer on $DIR/$1/d.sock"
}

add_host() { # add_host NODE: netns, veth into the bridge, address, loopback
	local n="$1" ns="$NAME-$1" veth="$NAME-$1"
	[ "${#veth}" -le 15 ] || die "interface name $veth too long: use a shorter NAME"
	ip netns add "$ns"
	ip link add "$veth" type veth peer name eth0 netns "$ns"
	ip link set "$veth" master "$BR" up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$(node_ip "$n")/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via "$NET.1"
}

up() {
	local managers="$1" workers="$2" engine="$3" n
	[ "$managers" -ge 1 ] || die "need at least one manager"
	[ "$managers" -le 9 ] && [ "$workers" -le 9 ] || die "at most 9 managers and 9 workers"
	[ "$(id -u)" = 0 ] || die "must run as root"
	[ ! -e "$DIR" ] || die "$DIR exists: run '$0 down' first"
	mkdir -p "$DIR"
	echo "$engine" >"$DIR/engine"
	ip link add "$BR" type bridge
	ip addr add "$NET.1/24" dev "$BR"
	ip link set "$BR" up
	# br_netfilter sends bridged frames through FORWARD, and a dockerd on this machine may have set
	# its policy to DROP: accept this bridge's traffic explicitly.
	iptables -I FORWARD -i "$BR" -j ACCEPT
	iptables -I FORWARD -o "$BR" -j ACCEPT
	# Nothing from the hosts leaves for another interface (a daemon resolving a Docker Hub name
	# would otherwise send DNS queries off the machine): refused at once, above the accepts.
	iptables -I FORWARD -i "$BR" ! -o "$BR" -j REJECT
	local nodes=()
	for n in $(seq 1 "$managers"); do nodes+=("m$n"); done
	for n in $(seq 1 "$workers"); do nodes+=("w$n"); done
	printf '%s\n' "${nodes[@]}" >"$DIR/nodes"
	for n in "${nodes[@]}"; do add_host "$n"; done
	for n in "${nodes[@]}"; do start_daemon "$n" "$engine"; done
	for n in "${nodes[@]}"; do wait_ready "$n"; done
	log "swarm init on m1 ($(node_ip m1))"
	dk m1 swarm init --advertise-addr "$(node_ip m1)" >/dev/null
	local mtok wtok
	mtok="$(dk m1 swarm join-token -q manager)"
	wtok="$(dk m1 swarm join-token -q worker)"
	for n in "${nodes[@]}"; do
		[ "$n" = m1 ] && continue
		local tok="$wtok"
		[ "${n:0:1}" = m ] && tok="$mtok"
		log "swarm join $n ($(node_ip "$n"))"
		dk "$n" swarm join --advertise-addr "$(node_ip "$n")" --token "$tok" "$(node_ip m1):2377" >/dev/null
	done
	dk m1 node ls
	log "up: for node X, export DOCKER_HOST=unix://$DIR/X/d.sock (daemon log: $DIR/X/daemon.log)"
}

down() {
	# Best effort: every step runs even when an earlier one found nothing to remove.
	set +e +o pipefail
	local n pid
	if [ -f "$DIR/nodes" ]; then
		for n in $(cat "$DIR/nodes"); do
			pid="$(cat "$DIR/$n/launcher.pid" 2>/dev/null || true)"
			[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
		done
		for n in $(cat "$DIR/nodes"); do
			pid="$(cat "$DIR/$n/launcher.pid" 2>/dev/null || true)"
			for _ in $(seq 1 150); do
				[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
		done
	fi
	# Whatever is left that lives under DIR (daemons that ignored SIGTERM, containerd, shims) and
	# its descendants.
	if [ -d "$DIR" ]; then
		local seeds doomed
		seeds="$(for p in /proc/[0-9]*; do
			if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "$DIR/"; then echo "${p#/proc/}"; fi
		done | tr '\n' ' ')"
		doomed="$(ps -eo pid=,ppid= | awk -v seeds="$seeds" -v me="$$" '
			BEGIN { n = split(seeds, s, /[ \n]+/); for (i = 1; i <= n; i++) if (s[i] != "") keep[s[i]] = 1 }
			{ pp[$1] = $2 }
			END { do { changed = 0; for (p in pp) if (!(p in keep) && (pp[p] in keep) && p != me) { keep[p] = 1; changed = 1 } } while (changed)
			      for (k in keep) if (k != me) print k }')"
		[ -n "$doomed" ] && kill -KILL $doomed 2>/dev/null || true
		awk '{print $5}' /proc/self/mountinfo | grep -F "$DIR/" | sort -r | while read -r m; do
			umount -l "$m" || true
		done
	fi
	for ns in $(ip netns list | awk '{print $1}' | grep -E "^$NAME-[a-z][0-9]+$" || true); do
		ip netns del "$ns"
	done
	# Deleting a namespace deletes its end of each veth, and with it the peer; this catches the rest.
	for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^$NAME-[a-z][0-9]+$" || true); do
		ip link del "$l" 2>/dev/null || true
	done
	while iptables -D FORWARD -i "$BR" ! -o "$BR" -j REJECT 2>/dev/null; do :; done
	while iptables -D FORWARD -i "$BR" -j ACCEPT 2>/dev/null; do :; done
	while iptables -D FORWARD -o "$BR" -j ACCEPT 2>/dev/null; do :; done
	ip link del "$BR" 2>/dev/null || true
	rm -rf "$DIR"
	log "down: $NAME removed"
}

cmd="${1:-}"
shift || true
case "$cmd" in
up)
	[ $# -ge 2 ] || usage
	managers="$1" workers="$2"
	shift 2
	engine=shoal
	while [ $# -gt 0 ]; do
		case "$1" in
		--engine) engine="${2:-}"; shift 2 ;;
		--engine=*) engine="${1#--engine=}"; shift ;;
		*) usage ;;
		esac
	done
	case "$engine" in shoal | dockerd) ;; *) die "--engine shoal|dockerd" ;; esac
	# A failed `up` leaves nothing behind either.
	trap 'rc=$?; if [ $rc -ne 0 ]; then log "up failed, tearing down"; down; fi' EXIT
	up "$managers" "$workers" "$engine"
	trap - EXIT
	;;
down) down ;;
env)
	[ $# -eq 1 ] || usage
	echo "export DOCKER_HOST=unix://$DIR/$1/d.sock"
	;;
*) usage ;;
esac
