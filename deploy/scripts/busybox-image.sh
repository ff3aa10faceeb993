#!/usr/bin/env bash
# Imports a one-layer `busybox:latest` image, built from Debian's busybox-static, into the engine
# DOCKER_HOST points at (default: Shoal's socket). No registry is needed.
#
#   deploy/scripts/busybox-image.sh            # then: docker run --rm busybox echo hello
set -euo pipefail
export DOCKER_HOST=${DOCKER_HOST:-unix:///run/shoal/docker.sock}
bb=$(command -v busybox || true)
[ -n "$bb" ] && file -L "$bb" 2>/dev/null | grep -q "statically linked" || bb=/bin/busybox
[ -x "$bb" ] || { echo "busybox-image.sh: install busybox-static first" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/tmp"
cp "$bb" "$dir/rootfs/bin/busybox"
for applet in $("$bb" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$dir/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/rootfs/etc/group"
tar -C "$dir/rootfs" -cf "$dir/rootfs.tar" .
docker import --change 'CMD ["sh"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$dir/rootfs.tar" busybox:latest
