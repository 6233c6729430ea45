"""Cgroups behind one interface: v1 (per-controller hierarchies), v2
(unified), and the hybrid layout (v1 controllers plus a cgroup2 mount).

A manager is made from the container's cgroupsPath once, at create; its
paths are stored in the state and a manager is rebuilt from them later.
"""
import os

from busybox_engine.runtime.cgroups.hierarchy import MOUNT_ROOT, mounts  # noqa: F401 - the package's API


def is_cgroup2(path: str) -> bool:
    """Whether the visible (last) mount at path is cgroup2."""
    return mounts().is_cgroup2(path)


def mode() -> str:
    """'v2' on a unified host, 'v1' otherwise (pure v1 or hybrid)."""
    return "v2" if is_cgroup2(MOUNT_ROOT) else "v1"


def new_manager(cgroups_path: str, cid: str):
    if mode() == "v2":
        from busybox_engine.runtime.cgroups.v2 import Manager
    else:
        from busybox_engine.runtime.cgroups.v1 import Manager
    return Manager.for_path(cgroups_path, cid)


def manager_for(container):
    """The manager of an existing container, from its stored paths."""
    paths = container.data.get("cgroup_paths") or {}
    if container.data.get("cgroup_mode") == "v2":
        from busybox_engine.runtime.cgroups.v2 import Manager
    else:
        from busybox_engine.runtime.cgroups.v1 import Manager
    return Manager(paths)


def parse_sub_cgroups(args: list) -> dict:
    """exec --cgroup [CONTROLLER[,CONTROLLER]:]PATH ... -> {controller: path}
    ("" for all controllers: then the only one), with runc's refusals."""
    from busybox_engine.runtime.errors import RuntimeFailure
    subs = {}
    for arg in args:
        parts = arg.split(":", 2)
        if len(parts) > 2:
            raise RuntimeFailure(f"invalid --cgroup argument: {arg}")
        if len(parts) == 1:
            if len(args) != 1:
                raise RuntimeFailure(f"invalid --cgroup argument: {arg} (missing <controller>: prefix)")
            subs[""] = arg
            continue
        for ctrl in parts[0].split(","):
            if not ctrl:
                raise RuntimeFailure(f"invalid --cgroup argument: {arg} (empty <controller> prefix)")
            if ctrl in subs:
                raise RuntimeFailure(f"invalid --cgroup argument(s): controller {ctrl} specified multiple times")
            subs[ctrl] = parts[1]
    return subs


def with_sub_cgroups(paths: dict, subs: dict, v2: bool) -> dict:
    """The container's cgroup paths with exec --cgroup's sub-cgroups in
    them; each must stay below the container's own."""
    from busybox_engine.runtime.errors import RuntimeFailure
    out = dict(paths)
    if v2:
        if len(set(subs.values())) > 1:
            raise RuntimeFailure("invalid --cgroup argument(s): cgroup v2 has one hierarchy")
        chosen = {"": next(iter(subs.values()))} if subs else {}
    elif "" in subs:
        chosen = {ctrl: subs[""] for ctrl in paths}
    else:
        chosen = subs
    for ctrl, sub in chosen.items():
        if ctrl not in out:
            raise RuntimeFailure(f"unknown controller {ctrl} in --cgroup")
        base = out[ctrl]
        joined = os.path.normpath(os.path.join(base, sub.lstrip("/")))
        if joined != base and not joined.startswith(base.rstrip("/") + "/"):
            raise RuntimeFailure(f"{sub} is not a sub cgroup path")
        out[ctrl] = joined
    return out


def write(path: str, value) -> None:
    """Write one cgroup file; errors name the file and the value."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise OSError(e.errno, f"open `{path}`: {e.strerror}") from None
    try:
        os.write(fd, str(value).encode())
    except OSError as e:
        raise OSError(e.errno, f"write `{value}` to `{path}`: {e.strerror}") from None
    finally:
        os.close(fd)


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def read_pids(path: str, recursive: bool = False) -> list:
    try:
        pids = [int(x) for x in read(os.path.join(path, "cgroup.procs")).split()]
    except FileNotFoundError:
        return []
    if recursive:
        try:
            subdirs = [e.path for e in os.scandir(path) if e.is_dir(follow_symlinks=False)]
        except FileNotFoundError:
            subdirs = []
        for sub in subdirs:
            pids += read_pids(sub, True)
    return pids


_own = None


def own_cgroup(controller: str) -> str:
    """This process's cgroup for a v1 controller ('' for the v2 entry)."""
    global _own
    if _own is None:  # one read of /proc/self/cgroup a process
        _own = {}
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                for ctrl in ctrls.split(","):
                    _own.setdefault(ctrl, path)
    return _own.get(controller, "/")


def enable_controllers(path: str, mount: str, wanted: set | None = None) -> None:
    """Delegate controllers down a cgroup2 tree, from mount to path's parent
    (all available ones, or just `wanted`), so path gets their files."""
    parent = os.path.dirname(path)
    if not parent.startswith(mount) or parent == os.path.dirname(mount):
        return
    if parent != mount:
        enable_controllers(parent, mount, wanted)
    os.makedirs(parent, exist_ok=True)
    available = set(read(os.path.join(parent, "cgroup.controllers")).split())
    enabled = set(read(os.path.join(parent, "cgroup.subtree_control")).split())
    todo = (available if wanted is None else available & wanted) - enabled
    if todo:
        try:
            write(os.path.join(parent, "cgroup.subtree_control"), " ".join(f"+{c}" for c in sorted(todo)))
        except OSError:
            pass  # a parent with processes in it cannot delegate: best effort


def unified_file(cgroup: str, key) -> str:
    """The file of a `unified` resource: a file name in the container's own
    cgroup, never a path that leads out of it."""
    if not isinstance(key, str) or not key or "/" in key or "\0" in key or key in (".", ".."):
        raise OSError(22, f"unified resource {key!r} must be a file name (no slashes)")
    return os.path.join(cgroup, key)


FREEZE_TIMEOUT = 2.0


def await_frozen(manager, path: str) -> None:
    """Until the freeze asked for has taken; if it has not in
    FREEZE_TIMEOUT seconds (a task stuck in the kernel can hold it up), the
    cgroup is thawed again and the freeze fails: never reported done when
    it is not, never left half-frozen."""
    import errno
    import time
    deadline = time.monotonic() + FREEZE_TIMEOUT
    delay = 0.0005
    while not manager.frozen():
        if time.monotonic() > deadline:
            manager.thaw()
            raise OSError(errno.EBUSY, f"freeze `{path}`: not frozen after {FREEZE_TIMEOUT:g} s; thawed again")
        time.sleep(delay)
        delay = min(delay * 2, 0.01)


def signal_frozen(manager, sig: int) -> None:
    """Signal every process of a cgroup, frozen so none can fork away (if
    it will not freeze, signalled all the same)."""
    try:
        manager.freeze()
        frozen = True
    except OSError:
        frozen = False
    try:
        for pid in manager.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
    finally:
        if frozen:
            manager.thaw()


def remove_dir(path: str) -> None:
    """rmdir a cgroup, children first, retrying while exiting tasks leave."""
    import time
    if not os.path.isdir(path):
        return
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            remove_dir(entry.path)
    for delay in (0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8):
        if delay:
            time.sleep(delay)
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            last = e
    raise OSError(last.errno, f"rmdir `{path}`: {last.strerror}")
