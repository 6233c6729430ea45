"""cgroup v2: one unified hierarchy."""
import os

from busybox_engine.runtime.cgroups import (MOUNT_ROOT, await_frozen, enable_controllers, own_cgroup, read, read_pids,
                                            remove_dir, signal_frozen, unified_file, write)


class Manager:
    mode = "v2"

    def __init__(self, paths: dict):
        self.paths = paths
        self.path = paths.get("", "")

    @classmethod
    def for_path(cls, cgroups_path: str, cid: str) -> "Manager":
        rel = cgroups_path or cid
        inner = rel if os.path.isabs(rel) else os.path.join(own_cgroup(""), rel)
        return cls({"": os.path.join(MOUNT_ROOT, inner.lstrip("/"))})

    def create(self, resources: dict | None) -> None:
        enable_controllers(self.path, MOUNT_ROOT)
        os.makedirs(self.path, exist_ok=True)
        self.set(resources or {}, creating=True)

    def add(self, pid: int) -> None:
        write(os.path.join(self.path, "cgroup.procs"), pid)

    def destroy(self) -> None:
        remove_dir(self.path)

    def set(self, r: dict, creating: bool = False) -> None:
        p = self.path
        mem = r.get("memory") or {}
        if mem.get("limit") is not None:
            write(os.path.join(p, "memory.max"), "max" if mem["limit"] < 0 else mem["limit"])
        if mem.get("swap") is not None and os.path.exists(os.path.join(p, "memory.swap.max")):
            swap = mem["swap"]
            limit = mem.get("limit") or 0
            # v1's swap is memory+swap; v2's is swap alone
            write(os.path.join(p, "memory.swap.max"),
                  "max" if swap < 0 else max(swap - limit, 0) if limit > 0 else swap)
        if mem.get("reservation") is not None:
            write(os.path.join(p, "memory.low"), mem["reservation"])
        cpu = r.get("cpu") or {}
        if cpu.get("shares"):
            # runc's conversion of v1 shares [2..262144] to weight [1..10000]
            weight = 1 + ((cpu["shares"] - 2) * 9999) // 262142
            write(os.path.join(p, "cpu.weight"), weight)
        if cpu.get("quota") or cpu.get("period"):
            quota = cpu.get("quota")
            write(os.path.join(p, "cpu.max"),
                  f"{'max' if not quota or quota < 0 else quota} {cpu.get('period') or 100000}")
        if cpu.get("cpus"):
            write(os.path.join(p, "cpuset.cpus"), cpu["cpus"])
        if cpu.get("mems"):
            write(os.path.join(p, "cpuset.mems"), cpu["mems"])
        pids = r.get("pids") or {}
        if pids.get("limit") is not None:
            write(os.path.join(p, "pids.max"), "max" if pids["limit"] <= 0 else pids["limit"])
        for h in r.get("hugepageLimits") or []:
            write(os.path.join(p, f"hugetlb.{h.get('pageSize')}.max"), h.get("limit"))
        bio = r.get("blockIO") or {}
        if bio:
            set_io(p, bio)
        for key, value in (r.get("unified") or {}).items():
            write(unified_file(p, key), value)
        if creating or r.get("devices") is not None:
            # v2 decides device access with a BPF program on the cgroup
            from busybox_engine.runtime.cgroups import devicefilter
            devicefilter.attach(p, devicefilter.spec_rules(r.get("devices")))

    def pids(self, recursive: bool = False) -> list:
        return read_pids(self.path, recursive)

    def freeze(self) -> None:
        path = os.path.join(self.path, "cgroup.freeze")
        write(path, 1)
        await_frozen(self, path)

    def thaw(self) -> None:
        write(os.path.join(self.path, "cgroup.freeze"), 0)

    def frozen(self) -> bool:
        try:
            return "frozen 1" in read(os.path.join(self.path, "cgroup.events"))
        except FileNotFoundError:
            return False

    def signal_all(self, sig: int) -> None:
        if sig == 9 and os.path.exists(os.path.join(self.path, "cgroup.kill")):
            write(os.path.join(self.path, "cgroup.kill"), 1)
            return
        signal_frozen(self, sig)

    def stats(self) -> dict:
        from busybox_engine.runtime.cgroups.stats import v2_stats
        return v2_stats(self.path)


IO_MAX = (("throttleReadBpsDevice", "rbps"), ("throttleWriteBpsDevice", "wbps"),
          ("throttleReadIOPSDevice", "riops"), ("throttleWriteIOPSDevice", "wiops"))


def set_io(path: str, bio: dict) -> None:
    """blockIO on cgroup v2: weights (v1's 10..1000 scaled to 1..10000, as
    runc converts them) in io.bfq.weight or io.weight, limits in io.max."""
    def weight_file():
        for f in ("io.bfq.weight", "io.weight"):
            if os.path.exists(os.path.join(path, f)):
                return os.path.join(path, f), f == "io.bfq.weight"
        raise OSError(95, "io.weight: the io controller is not enabled")
    if bio.get("weight"):
        f, bfq = weight_file()
        write(f, bio["weight"] if bfq else 1 + (bio["weight"] - 10) * 9999 // 990)
    for d in bio.get("weightDevice") or []:
        if d.get("weight"):
            f, bfq = weight_file()
            w = d["weight"] if bfq else 1 + (d["weight"] - 10) * 9999 // 990
            write(f, f"{d['major']}:{d['minor']} {w}")
    for key, name in IO_MAX:
        for d in bio.get(key) or []:
            write(os.path.join(path, "io.max"), f"{d['major']}:{d['minor']} {name}={d['rate'] or 'max'}")

