"""runc events [--stats] [--interval 5s] ID: stats as JSON, once or a line
every interval until the container stops (with an oom event when the
cgroup's OOM counter grows)."""
import json
import sys
import time

from busybox_engine.runtime import state
from busybox_engine.runtime.cgroups import manager_for
from busybox_engine.runtime.cli import UsageError, one_id
from busybox_engine.runtime.errors import WrongState

FLAGS = {"stats": bool, "interval": str}


def duration(text: str) -> float:
    """--interval as Go's time.ParseDuration reads it (100ms, 1s, 1m30s)."""
    from busybox_engine.util.timefmt import parse_duration
    try:
        value = parse_duration(text.strip())
    except ValueError as e:
        raise UsageError(f'invalid value "{text}" for flag -interval: {e}') from None
    if value <= 0:
        raise UsageError("duration interval must be greater than 0")
    return value


def run(ctx, opts: dict, args: list, command: str) -> int:
    c = state.load(ctx.root, one_id(args, command))
    if c.status() == "stopped":
        raise WrongState("container not running")
    cg = manager_for(c)

    def emit(kind: str, data: dict) -> None:
        sys.stdout.write(json.dumps({"type": kind, "id": c.id, "data": data}, separators=(",", ":")) + "\n")
        sys.stdout.flush()
    if opts.get("stats"):
        emit("stats", cg.stats())
        return 0
    interval = duration(opts.get("interval", "5s"))
    ooms = _oom_count(cg)
    # stats every interval; the OOM counter and the container's state more
    # often (an oom is told as it happens, and the command ends with the container)
    tick = min(interval, 0.1)
    next_stats = time.monotonic()
    while True:
        now = _oom_count(cg)
        if now > ooms:
            emit("oom", {})
            ooms = now
        if c.status() == "stopped":
            return 0
        if time.monotonic() >= next_stats:
            try:
                emit("stats", cg.stats())
            except OSError:
                return 0   # its cgroup went with it
            next_stats += interval
        time.sleep(tick)


def _oom_count(cg) -> int:
    """OOM kills in the container's cgroup so far (v1 memory.oom_control,
    v2 memory.events)."""
    import os
    paths = getattr(cg, "paths", None) or {}
    if "memory" in paths:
        f = os.path.join(paths["memory"], "memory.oom_control")
    elif "" in paths:
        f = os.path.join(paths[""], "memory.events")
    else:
        return 0
    try:
        with open(f) as fh:
            for line in fh:
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
    except (OSError, ValueError):
        pass
    return 0
