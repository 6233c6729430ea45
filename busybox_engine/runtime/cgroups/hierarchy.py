"""Where the cgroup hierarchies are mounted, read from /proc/self/mountinfo
as runc finds them: a plain directory under /sys/fs/cgroup that happens to
be named like a controller is not a hierarchy.

v1 hierarchies are keyed by controller (cpu, memory, ...; a named one as
name=systemd); co-mounted controllers (cpu,cpuacct) share one mount point.
"""
import os

from busybox_engine.util.mountinfo import parse

MOUNT_ROOT = "/sys/fs/cgroup"
# the kernel's v1 controllers: anything else in a cgroup mount's super
# options is a mount option (rw, noprefix, xattr, release_agent=...)
V1_CONTROLLERS = frozenset(("cpuset", "cpu", "cpuacct", "blkio", "memory", "devices", "freezer",
                            "net_cls", "net_prio", "perf_event", "hugetlb", "pids", "rdma", "misc",
                            "debug"))


class Mounts:
    """The cgroup mounts of this process's mount namespace."""

    def __init__(self, lines):
        self.v1 = {}        # controller -> (mount point, root of the hierarchy it shows)
        self.v2 = None      # (mount point, root) of the first cgroup2 mount
        self.fstypes = {}   # mount point -> fstype of the last (visible) mount there
        for e in parse(lines):
            root, point, fstype, superopts = e.root, e.point, e.fstype, e.superopts
            self.fstypes[point] = fstype
            if fstype == "cgroup2":
                if self.v2 is None:
                    self.v2 = (point, root)
            elif fstype == "cgroup":
                for opt in superopts.split(","):
                    if opt in V1_CONTROLLERS or opt.startswith("name="):
                        self.v1.setdefault(opt, (point, root))

    def is_cgroup2(self, path: str) -> bool:
        return self.fstypes.get(path) == "cgroup2"

    def unified(self) -> str | None:
        """The cgroup2 mount point: MOUNT_ROOT on a v2 host, its unified
        directory on a hybrid one, None on pure v1."""
        if self.is_cgroup2(MOUNT_ROOT):
            return MOUNT_ROOT
        return self.v2[0] if self.v2 else None


_mounts = None


def mounts() -> Mounts:
    """This process's cgroup mounts (read once a process)."""
    global _mounts
    if _mounts is None:
        with open("/proc/self/mountinfo") as f:
            _mounts = Mounts(f)
    return _mounts


def move_to_root(pid: int) -> None:
    """Move pid to the root cgroup of every hierarchy it is in: shims must
    not live in containerd's cgroups (stopping containerd's service, its
    cgroup, must not stop containers). Best effort: a hierarchy we may not
    write keeps it where it is."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    m = mounts()
    for line in lines:
        _, ctrls, path = line.split(":", 2)
        if path == "/":
            continue
        if ctrls == "":
            base = m.unified()
        else:
            found = m.v1.get(ctrls.split(",")[0])
            base = found[0] if found else None
        if base is None:
            continue
        try:
            with open(os.path.join(base, "cgroup.procs"), "w") as f:
                f.write(str(pid))
        except OSError:
            pass
