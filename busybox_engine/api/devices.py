"""Host devices in a container: --device as Docker adds them (a node made
in the container and a cgroup rule), and every host device for
--privileged, found as runc's GetDevices finds them."""
import os
import stat

from busybox_engine.rpc.errors import InvalidArgument

# what a walk of /dev leaves out, as runc's GetDevices does
SKIP_DIRS = {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"}


def _node(path: str, dest: str, st) -> dict:
    kind = "c" if stat.S_ISCHR(st.st_mode) else "b"
    return {"path": dest, "type": kind, "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
            "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}


def _walk(root: str):
    """(path, stat) of every device node under root."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    for e in entries:
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            if e.name not in SKIP_DIRS:
                yield from _walk(e.path)
        elif (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) and e.name != "console":
            yield e.path, st


def requested(host_config: dict) -> tuple:
    """(linux.devices, device cgroup rules) of HostConfig.Devices."""
    nodes, rules = [], []
    for d in host_config.get("Devices") or []:
        if not isinstance(d, dict) or not isinstance(d.get("PathOnHost"), str):
            raise InvalidArgument("invalid device mapping: PathOnHost is required")
        src = d["PathOnHost"]
        dst = d.get("PathInContainer") or src
        perms = d.get("CgroupPermissions") or "rwm"
        if not perms or any(ch not in "rwm" for ch in perms):
            raise InvalidArgument(f"invalid device cgroup permissions: {perms!r}")
        try:
            st = os.stat(src)
        except OSError as e:
            raise InvalidArgument(f"error gathering device information while adding custom device "
                                  f"\"{src}\": {e.strerror.lower() if e.strerror else e}") from None
        if stat.S_ISDIR(st.st_mode):
            found = [(p, s, os.path.join(dst, os.path.relpath(p, src))) for p, s in _walk(src)]
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            found = [(src, st, dst)]
        else:
            raise InvalidArgument(f"error gathering device information while adding custom device "
                                  f"\"{src}\": not a device node")
        for _p, s, target in found:
            node = _node(_p, target, s)
            nodes.append(node)
            rules.append({"allow": True, "type": node["type"], "major": node["major"],
                          "minor": node["minor"], "access": perms})
    return nodes, rules


def host_devices() -> list:
    """linux.devices for --privileged: every device of the host's /dev."""
    return [_node(p, p, st) for p, st in _walk("/dev")]


def cgroup_rules(host_config: dict) -> list:
    """linux.resources.devices entries of --device-cgroup-rule ('c 1:3 rwm')."""
    import re
    out = []
    for text in host_config.get("DeviceCgroupRules") or []:
        m = re.fullmatch(r"([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})", str(text))
        if not m:
            raise InvalidArgument(f"invalid device cgroup rule format: '{text}'")
        out.append({"allow": True, "type": m.group(1), "access": m.group(4),
                    "major": -1 if m.group(2) == "*" else int(m.group(2)),
                    "minor": -1 if m.group(3) == "*" else int(m.group(3))})
    return out


def block_devices(entries, value_key: str, spec_key: str) -> list:
    """--blkio-weight-device / --device-*-bps|iops entries with the
    device's numbers, as the runtime spec wants them."""
    out = []
    for d in entries or []:
        if not isinstance(d, dict) or not isinstance(d.get("Path"), str):
            raise InvalidArgument(f"invalid block device entry: {d!r}")
        try:
            st = os.stat(d["Path"])
        except OSError as e:
            raise InvalidArgument(f"stat {d['Path']}: {(e.strerror or str(e)).lower()}") from None
        out.append({"major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
                    spec_key: int(d.get(value_key) or 0)})
    return out

