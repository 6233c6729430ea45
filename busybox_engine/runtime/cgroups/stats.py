"""Cgroup statistics, shaped like runc's `events --stats` data."""
import os


def _int(path: str) -> int:
    try:
        with open(path) as f:
            v = f.read().strip()
        return 0 if v == "max" else int(v)
    except (OSError, ValueError):
        return 0


def _kv(path: str) -> dict:
    out = {}
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.partition(" ")
                try:
                    out[k] = int(v)
                except ValueError:
                    pass
    except OSError:
        pass
    return out


def v1_stats(paths: dict) -> dict:
    mem = paths.get("memory", "")
    cpuacct = paths.get("cpuacct", "")
    pids = paths.get("pids", "")
    return {
        "cpu": {"usage": {"total": _int(os.path.join(cpuacct, "cpuacct.usage"))}},
        "memory": {"usage": {"usage": _int(os.path.join(mem, "memory.usage_in_bytes")),
                             "max": _int(os.path.join(mem, "memory.max_usage_in_bytes")),
                             "limit": _int(os.path.join(mem, "memory.limit_in_bytes")),
                             "failcnt": _int(os.path.join(mem, "memory.failcnt"))},
                   "raw": _kv(os.path.join(mem, "memory.stat"))},
        "pids": {"current": _int(os.path.join(pids, "pids.current")),
                 "limit": _int(os.path.join(pids, "pids.max"))},
    }


def v2_stats(path: str) -> dict:
    cpu = _kv(os.path.join(path, "cpu.stat"))
    return {
        "cpu": {"usage": {"total": cpu.get("usage_usec", 0) * 1000}},
        "memory": {"usage": {"usage": _int(os.path.join(path, "memory.current")),
                             "max": _int(os.path.join(path, "memory.peak")),
                             "limit": _int(os.path.join(path, "memory.max"))},
                   "raw": _kv(os.path.join(path, "memory.stat"))},
        "pids": {"current": _int(os.path.join(path, "pids.current")),
                 "limit": _int(os.path.join(path, "pids.max"))},
    }
