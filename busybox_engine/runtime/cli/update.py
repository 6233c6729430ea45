"""runc update [-r FILE | flags] ID: change a container's cgroup limits."""
import json
import sys

from busybox_engine.runtime import state
from busybox_engine.runtime.cgroups import manager_for
from busybox_engine.runtime.cli import UsageError, one_id
from busybox_engine.runtime.errors import RuntimeFailure, WrongState

FLAGS = {"resources": str, "memory": str, "memory-reservation": str, "memory-swap": str,
         "kernel-memory": str, "kernel-memory-tcp": str, "cpu-shares": int, "cpu-period": int,
         "cpu-quota": int, "cpu-rt-period": int, "cpu-rt-runtime": int, "cpuset-cpus": str,
         "cpuset-mems": str, "pids-limit": int, "blkio-weight": int, "l3-cache-schema": str,
         "mem-bw-schema": str}
ALIASES = {"r": "resources", "cpu-share": "cpu-shares"}   # runc's flag is --cpu-share
UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def size(text: str) -> int:
    """A byte count: 1024, 64m, 2g; -1 for unlimited."""
    t = text.strip().lower().rstrip("b")
    try:
        if t and t[-1] in UNITS:
            return int(float(t[:-1]) * UNITS[t[-1]])
        return int(t)
    except ValueError:
        raise UsageError(f"invalid size {text!r}") from None


def resources_from_flags(opts: dict) -> dict:
    r = {}
    mem = {k: size(opts[f]) for k, f in (("limit", "memory"), ("reservation", "memory-reservation"),
                                         ("swap", "memory-swap")) if f in opts}
    if mem:
        r["memory"] = mem
    cpu = {k: opts[f] for k, f in (("shares", "cpu-shares"), ("period", "cpu-period"),
                                   ("quota", "cpu-quota"), ("realtimePeriod", "cpu-rt-period"),
                                   ("realtimeRuntime", "cpu-rt-runtime"), ("cpus", "cpuset-cpus"),
                                   ("mems", "cpuset-mems")) if f in opts}
    if cpu:
        r["cpu"] = cpu
    if "pids-limit" in opts:
        r["pids"] = {"limit": opts["pids-limit"]}
    if "blkio-weight" in opts:
        r["blockIO"] = {"weight": opts["blkio-weight"]}
    return r


def run(ctx, opts: dict, args: list, command: str) -> int:
    c = state.load(ctx.root, one_id(args, command))
    if c.status() == "stopped":
        raise WrongState("container not running")
    if opts.get("resources"):
        try:
            if opts["resources"] == "-":
                r = json.load(sys.stdin)
            else:
                with open(opts["resources"]) as f:
                    r = json.load(f)
        except (OSError, ValueError) as e:
            raise RuntimeFailure(f"resources file {opts['resources']}: {e}") from None
        if not isinstance(r, dict):
            raise RuntimeFailure("resources must be a JSON object (runtime-spec linux.resources)")
    else:
        r = resources_from_flags(opts)
    # runc update leaves the device rules as the container was created with
    # (it never rewrites them: no window without access, no rule granted)
    r = {k: v for k, v in r.items() if k != "devices"}
    manager_for(c).set(r)
    # keep the spec in step, so later reads (state, a restarted shim) agree
    linux = c.spec.setdefault("linux", {})
    current = linux.setdefault("resources", {})
    for key, value in r.items():
        if isinstance(value, dict) and isinstance(current.get(key), dict):
            current[key].update(value)
        else:
            current[key] = value
    c.save()
    return 0
