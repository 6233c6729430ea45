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
    t = text.strip()
    for suffix, scale in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)):
        if t.endswith(suffix):
            try:
                return float(t[: -len(suffix)]) * scale
            except ValueError:
                break
    raise UsageError(f"invalid duration {text!r}")


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
    while c.status() != "stopped":
        emit("stats", cg.stats())
        now = _oom_count(cg)
        if now > ooms:
            emit("oom", {})
            ooms = now
        time.sleep(interval)
    return 0


def _oom_count(cg) -> int:
    return (cg.stats().get("memory") or {}).get("raw", {}).get("oom_kill", 0)
