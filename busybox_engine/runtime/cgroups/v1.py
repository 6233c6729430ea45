"""cgroup v1: one directory per controller hierarchy.

On a hybrid host the container also gets a directory in the cgroup2 mount
(key "unified"), which carries what only v2 has there (hugetlb here,
`unified` keys, freeze and kill).
"""
import os

from busybox_engine.runtime.cgroups.devicefilter import spec_rules
from busybox_engine.runtime.cgroups import (await_frozen, enable_controllers, mounts, own_cgroup, read, read_pids,
                                            remove_dir, signal_frozen, write)

CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio",
               "pids", "hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc")
UNIFIED = "unified"

class Manager:
    mode = "v1"

    def __init__(self, paths: dict):
        self.paths = paths

    @classmethod
    def for_path(cls, cgroups_path: str, cid: str) -> "Manager":
        rel = cgroups_path or cid
        paths = {}
        # the hierarchies mounted here, as the kernel lists them (a plain
        # directory named like a controller is not one)
        m = mounts()
        found = {c: m.v1[c] for c in CONTROLLERS if c in m.v1}
        if m.v2 is not None:
            found[UNIFIED] = m.v2
        for ctrl, (point, root) in found.items():
            if os.path.isabs(rel):
                inner = rel
            else:
                own = own_cgroup("" if ctrl == UNIFIED else ctrl)
                if root != "/" and (own == root or own.startswith(root + "/")):
                    own = own[len(root):] or "/"  # the mount shows a subtree
                inner = os.path.join(own, rel)
            paths[ctrl] = os.path.join(point, inner.lstrip("/"))
        # co-mounted controllers (cpu,cpuacct) share one directory
        return cls(paths)

    # lifecycle

    def create(self, resources: dict | None) -> None:
        for ctrl, path in self.paths.items():
            os.makedirs(path, exist_ok=True)
            if ctrl == "cpuset":
                self._inherit_cpuset(path)
        self.set(resources or {}, creating=True)

    def _inherit_cpuset(self, path: str) -> None:
        # a v1 cpuset cgroup cannot take tasks while cpus or mems is empty
        for f in ("cpuset.cpus", "cpuset.mems"):
            if not read(os.path.join(path, f)).strip():
                parent = os.path.dirname(path)
                self._inherit_cpuset(parent) if not read(os.path.join(parent, f)).strip() else None
                write(os.path.join(path, f), read(os.path.join(parent, f)).strip())

    def add(self, pid: int) -> None:
        for path in self.paths.values():
            write(os.path.join(path, "cgroup.procs"), pid)

    def destroy(self) -> None:
        for path in self.paths.values():
            remove_dir(path)

    # resources

    def set(self, r: dict, creating: bool = False) -> None:
        p = self.paths
        mem = r.get("memory") or {}
        if "memory" in p:
            limit = mem.get("limit")
            swap = mem.get("swap")
            memsw = os.path.join(p["memory"], "memory.memsw.limit_in_bytes")
            # memsw must stay >= limit: raise it first when growing
            if swap is not None and os.path.exists(memsw):
                try:
                    write(memsw, swap)
                    swap = None
                except OSError:
                    pass
            if limit is not None:
                write(os.path.join(p["memory"], "memory.limit_in_bytes"), limit)
            if swap is not None and os.path.exists(memsw):
                write(memsw, swap)
            if mem.get("reservation") is not None:
                write(os.path.join(p["memory"], "memory.soft_limit_in_bytes"), mem["reservation"])
            if mem.get("swappiness") is not None:
                write(os.path.join(p["memory"], "memory.swappiness"), mem["swappiness"])
            if mem.get("disableOOMKiller"):
                write(os.path.join(p["memory"], "memory.oom_control"), 1)
        cpu = r.get("cpu") or {}
        if "cpu" in p:
            for key, f in (("shares", "cpu.shares"), ("period", "cpu.cfs_period_us"),
                           ("quota", "cpu.cfs_quota_us"), ("realtimePeriod", "cpu.rt_period_us"),
                           ("realtimeRuntime", "cpu.rt_runtime_us")):
                if cpu.get(key) is not None and cpu.get(key) != 0:
                    write(os.path.join(p["cpu"], f), cpu[key])
        if "cpuset" in p:
            if cpu.get("cpus"):
                write(os.path.join(p["cpuset"], "cpuset.cpus"), cpu["cpus"])
            if cpu.get("mems"):
                write(os.path.join(p["cpuset"], "cpuset.mems"), cpu["mems"])
        pids = r.get("pids") or {}
        if "pids" in p and pids.get("limit") is not None:
            limit = pids["limit"]
            write(os.path.join(p["pids"], "pids.max"), "max" if limit <= 0 else limit)
        if "devices" in p and (creating or r.get("devices") is not None):
            for allow, rule in spec_rules(r.get("devices")):
                write(os.path.join(p["devices"], "devices.allow" if allow else "devices.deny"), rule)
        for h in r.get("hugepageLimits") or []:
            size, limit = h.get("pageSize"), h.get("limit")
            if "hugetlb" in p:
                write(os.path.join(p["hugetlb"], f"hugetlb.{size}.limit_in_bytes"), limit)
            elif UNIFIED in p:
                # hybrid: hugetlb lives in the cgroup2 mount, delegated on demand
                enable_controllers(p[UNIFIED], mounts().v2[0], {"hugetlb"})
                write(os.path.join(p[UNIFIED], f"hugetlb.{size}.max"), limit)
        bio = r.get("blockIO") or {}
        if "blkio" in p and bio:
            set_blkio(p["blkio"], bio)
        if r.get("unified"):
            # as runc: unified resources are cgroup v2's, and this host's
            # cgroup2 mount (hybrid) is not where its controllers live
            raise OSError(22, "invalid configuration: cannot use unified on cgroup v1")

    # state

    def pids(self, recursive: bool = False) -> list:
        for ctrl in ("pids", "freezer", "memory", "devices", "cpu", UNIFIED):
            if ctrl in self.paths:
                return read_pids(self.paths[ctrl], recursive)
        return []

    def freeze(self) -> None:
        if "freezer" in self.paths:
            path = os.path.join(self.paths["freezer"], "freezer.state")
            write(path, "FROZEN")
        elif UNIFIED in self.paths:
            path = os.path.join(self.paths[UNIFIED], "cgroup.freeze")
            write(path, 1)
        else:
            raise OSError(95, "freeze: no freezer cgroup (v1 freezer or cgroup2) on this host")
        await_frozen(self, path)

    def thaw(self) -> None:
        if "freezer" in self.paths:
            write(os.path.join(self.paths["freezer"], "freezer.state"), "THAWED")
        elif UNIFIED in self.paths:
            write(os.path.join(self.paths[UNIFIED], "cgroup.freeze"), 0)

    def frozen(self) -> bool:
        try:
            if "freezer" in self.paths:
                return read(os.path.join(self.paths["freezer"], "freezer.state")).strip() == "FROZEN"
            if UNIFIED in self.paths:
                return "frozen 1" in read(os.path.join(self.paths[UNIFIED], "cgroup.events"))
        except FileNotFoundError:
            pass
        return False

    def signal_all(self, sig: int) -> None:
        signal_frozen(self, sig)

    def stats(self) -> dict:
        from busybox_engine.runtime.cgroups.stats import v1_stats
        return v1_stats(self.paths)


THROTTLES = (("throttleReadBpsDevice", "read_bps_device"), ("throttleWriteBpsDevice", "write_bps_device"),
             ("throttleReadIOPSDevice", "read_iops_device"), ("throttleWriteIOPSDevice", "write_iops_device"))


def set_blkio(path: str, bio: dict) -> None:
    """linux.resources.blockIO: weights through CFQ's files or, where the
    kernel schedules with BFQ, its blkio.bfq.* ones (as runc picks)."""
    def weight_file(name):
        for f in (f"blkio.{name}", f"blkio.bfq.{name}"):
            if os.path.exists(os.path.join(path, f)):
                return os.path.join(path, f)
        raise OSError(95, f"blkio.{name}: not supported by this kernel's I/O scheduler")
    if bio.get("weight"):
        write(weight_file("weight"), bio["weight"])
    for d in bio.get("weightDevice") or []:
        if d.get("weight"):
            write(weight_file("weight_device"), f"{d['major']}:{d['minor']} {d['weight']}")
    for key, name in THROTTLES:
        for d in bio.get(key) or []:
            write(os.path.join(path, f"blkio.throttle.{name}"), f"{d['major']}:{d['minor']} {d['rate']}")

