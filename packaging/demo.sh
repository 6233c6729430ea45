#!/usr/bin/env bash
# The main job on a fresh machine: build the single file, install it,
# start containerd and dockerd, talk to them with our docker client, make a
# busybox image, import it and run it with ctr (containerd, shim, runc).
#   bash packaging/demo.sh        build, install, start, `docker version`, `ctr run --rm`
#   bash packaging/demo.sh stop   stop the daemons it started
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

wait_socket() {
    for _ in $(seq 100); do
        [ -S "$1" ] && return 0
        sleep 0.1
    done
    echo "no socket at $1; see $LOG" >&2
    return 1
}

if [ "${1:-}" = stop ]; then stop; exit 0; fi

PY=$(python3 -c 'import sys; print(sys.executable)')
"$PY" build.py
dist/busybox-engine --install "$BIN"
stop
setsid "$BIN/containerd" >"$LOG/containerd.log" 2>&1 < /dev/null &
echo $! > "$RUN/containerd.pid"
wait_socket "$RUN/containerd.sock"
setsid "$BIN/dockerd" --pidfile "$RUN/dockerd.pid" >"$LOG/dockerd.log" 2>&1 < /dev/null &
wait_socket "$RUN/docker.sock"
"$BIN/docker" version
ps -o pid,comm -p "$(cat "$RUN/containerd.pid"),$(cat "$RUN/dockerd.pid")"

# a container: a busybox image made by our own code from Debian's
# busybox-static, imported into our containerd and run by ctr (shim + runc)
[ -x /bin/busybox ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static; }
IMAGE=$(mktemp /tmp/busybox-engine-demo.XXXXXX.tar)
"$PY" -m busybox_engine.image.mkimage --tag busybox:latest "$IMAGE"
"$BIN/ctr" images import "$IMAGE"
rm -f "$IMAGE"
"$BIN/ctr" run --rm busybox:latest demo \
    sh -c 'echo "hello from a busybox-engine container: pid $$ on $(hostname)"; id'
echo "daemons running; stop them with: bash packaging/demo.sh stop"
