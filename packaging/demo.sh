#!/usr/bin/env bash
# The main job on a fresh machine: build the single file, install it,
# start dockerd (which starts its own containerd), make a busybox image from
# the host's busybox-static with `docker import` and run it through the real
# docker CLI: dockerd -> containerd -> one shim -> our runc.
#   bash packaging/demo.sh        build, install, start, `docker run --rm busybox echo hello`
#   bash packaging/demo.sh stop   stop the daemon it started (and its containerd), remove its bridge
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BINDIR:-/opt/busybox-engine/bin}
RUN=/run/busybox-engine
LOG=/var/log/busybox-engine
mkdir -p "$RUN" "$LOG"

stop() {
    for name in dockerd containerd; do
        pidfile="$RUN/$name.pid"
        if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            pid=$(cat "$pidfile")
            kill "$pid"
            while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
            echo "stopped $name ($pid)"
        fi
        rm -f "$pidfile"
    done
}

# the default bridge outlives dockerd (as docker0 does); `stop` leaves the host as it found it
remove_bridge() {
    ip link del bbe0 2>/dev/null || true
    while iptables -w -t nat -D POSTROUTING -j BBE-POSTROUTING 2>/dev/null; do :; done
    while iptables -w -t filter -D FORWARD -j BBE-FORWARD 2>/dev/null; do :; done
    while iptables -w -t filter -D FORWARD -j BBE-ISOLATION-1 2>/dev/null; do :; done
    while iptables -w -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j BBE-DNAT 2>/dev/null; do :; done
    while iptables -w -t nat -D OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j BBE-DNAT 2>/dev/null; do :; done
    # the jump of --userland-proxy=false (hairpin NAT)
    while iptables -w -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j BBE-DNAT 2>/dev/null; do :; done
    for spec in "nat BBE-POSTROUTING" "filter BBE-FORWARD" "nat BBE-DNAT" "filter BBE-ISOLATION-1" \
                "filter BBE-ISOLATION-2"; do
        set -- $spec
        iptables -w -t "$1" -F "$2" 2>/dev/null && iptables -w -t "$1" -X "$2" || true
    done
}

wait_socket() {
    for _ in $(seq 100); do
        [ -S "$1" ] && return 0
        sleep 0.1
    done
    echo "no socket at $1; see $LOG" >&2
    return 1
}

if [ "${1:-}" = stop ]; then stop; remove_bridge; exit 0; fi

PY=$(python3 -c 'import sys; print(sys.executable)')
"$PY" build.py
dist/busybox-engine --install "$BIN"
stop
# dockerd starts and supervises its own containerd (one shim per container, our runc)
setsid "$BIN/dockerd" --pidfile "$RUN/dockerd.pid" >"$LOG/dockerd.log" 2>&1 < /dev/null &
wait_socket "$RUN/docker.sock"
"$BIN/docker" version
ps -o pid,comm --ppid "$(cat "$RUN/dockerd.pid")" -p "$(cat "$RUN/dockerd.pid")"

# an image: a root filesystem of Debian's busybox-static, through `docker import`
[ -x /bin/busybox ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static; }
ROOTFS=$(mktemp -d /tmp/busybox-engine-demo.XXXXXX)
mkdir -p "$ROOTFS/bin" "$ROOTFS/etc" "$ROOTFS/tmp" "$ROOTFS/proc" "$ROOTFS/sys" "$ROOTFS/dev" "$ROOTFS/root"
cp /bin/busybox "$ROOTFS/bin/busybox"
for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$ROOTFS/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$ROOTFS/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$ROOTFS/etc/group"

# the real docker CLI (Debian's docker.io, or any other) drives our dockerd
DOCKER=$(command -v /usr/local/bin/docker /usr/bin/docker | head -n1 || true)
if [ -z "$DOCKER" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io
    DOCKER=/usr/bin/docker
fi
export DOCKER_HOST=unix://$RUN/docker.sock
tar -C "$ROOTFS" -c . | "$DOCKER" import --change 'CMD ["sh"]' - busybox:latest
rm -rf "$ROOTFS"
"$DOCKER" run --rm busybox echo hello
"$DOCKER" run --rm busybox sh -c 'echo "hello from a busybox-engine container: pid $$ on $(hostname)"; id'
# on the default bridge (bbe0): an address, and the gateway answers
"$DOCKER" run --rm busybox sh -c 'ip -o -4 addr show eth0; ping -c 1 -W 2 "$(ip route | awk "/default/ {print \$3}")"'
# and our own docker client, the same file
"$BIN/docker" run --rm busybox echo hello from our docker client
"$BIN/docker" images
echo "dockerd running; stop it with: bash packaging/demo.sh stop"
