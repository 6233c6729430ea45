"""Docker's stats JSON from the runtime's cgroup figures (runc events
--stats shape, v1 or v2)."""
import os
import time

from busybox_engine.util.timefmt import rfc3339nano

ZERO = "0001-01-01T00:00:00Z"
_TICKS = os.sysconf("SC_CLK_TCK")


def system_cpu_ns() -> int:
    """The host's CPU time in ns, as Docker reads it from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:8]
        return sum(int(x) for x in fields) * 1_000_000_000 // _TICKS
    except (OSError, ValueError):
        return 0


def _cpu(raw: dict | None, system: int) -> dict:
    cpu = ((raw or {}).get("cpu") or {}).get("usage") or {}
    out = {"cpu_usage": {"total_usage": int(cpu.get("total") or 0),
                         "usage_in_kernelmode": int(cpu.get("kernel") or 0),
                         "usage_in_usermode": int(cpu.get("user") or 0)},
           "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}
    if raw is not None:
        out["system_cpu_usage"] = system
        out["online_cpus"] = os.cpu_count() or 1
    if cpu.get("percpu"):
        out["cpu_usage"]["percpu_usage"] = cpu["percpu"]
    return out


def docker_stats(c, now: tuple, pre: tuple) -> dict:
    raw, system = now
    mem = (raw.get("memory") or {})
    usage = mem.get("usage") or {}
    limit = int(usage.get("limit") or 0)
    if not limit or limit >= 1 << 62:
        limit = _mem_total()
    stats = {k: int(v) for k, v in (mem.get("raw") or {}).items() if isinstance(v, int)}
    pids = raw.get("pids") or {}
    return {"read": rfc3339nano(), "preread": rfc3339nano(time.time() - 1) if pre[0] else ZERO,
            "pids_stats": {"current": int(pids.get("current") or 0),
                           **({"limit": int(pids["limit"])} if pids.get("limit") else {})},
            "blkio_stats": {"io_service_bytes_recursive": None, "io_serviced_recursive": None,
                            "io_queue_recursive": None, "io_service_time_recursive": None,
                            "io_wait_time_recursive": None, "io_merged_recursive": None,
                            "io_time_recursive": None, "sectors_recursive": None},
            "num_procs": 0, "storage_stats": {},
            "cpu_stats": _cpu(raw, system), "precpu_stats": _cpu(pre[0], pre[1]),
            "memory_stats": {"usage": int(usage.get("usage") or 0),
                             "max_usage": int(usage.get("max") or 0), "stats": stats,
                             "limit": limit},
            "name": c.name, "id": c.id}


def empty_stats(c) -> dict:
    return {"read": ZERO, "preread": ZERO, "pids_stats": {}, "blkio_stats": {},
            "num_procs": 0, "storage_stats": {},
            "cpu_stats": {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0,
                                        "usage_in_usermode": 0},
                          "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}},
            "precpu_stats": {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0,
                                           "usage_in_usermode": 0},
                             "throttling_data": {"periods": 0, "throttled_periods": 0,
                                                 "throttled_time": 0}},
            "memory_stats": {}, "name": c.name, "id": c.id}


def _mem_total() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
