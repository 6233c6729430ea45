"""The OCI spec containerd and Docker start every container from; callers
(ctr, dockerd) adjust it. Values follow containerd 1.6's populateDefaultUnixSpec
and Docker's defaults: 14 capabilities, the default device allow-list, the
usual /proc /dev /sys mounts, masked and read-only paths."""

from busybox_engine.oci.defaults import MASKED_PATHS, OCI_VERSION, PATH_ENV, READONLY_PATHS, dev_and_sys_mounts

DEFAULT_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]


def _dev(kind: str, major, minor, access: str = "rwm") -> dict:
    return {"allow": True, "type": kind, "major": major, "minor": minor, "access": access}


# what a container may open besides the device nodes it is given: the usual
# character devices, any pty, and mknod (not open) of anything
DEFAULT_DEVICE_RULES = [
    {"allow": False, "access": "rwm"},
    _dev("c", None, None, "m"), _dev("b", None, None, "m"),
    _dev("c", 1, 3), _dev("c", 1, 8), _dev("c", 1, 7), _dev("c", 5, 0), _dev("c", 1, 5),
    _dev("c", 1, 9), _dev("c", 5, 1), _dev("c", 136, None), _dev("c", 5, 2), _dev("c", 10, 200),
]
for _rule in DEFAULT_DEVICE_RULES:  # the OCI spec leaves "any" out rather than null
    for _k in ("major", "minor"):
        if _k in _rule and _rule[_k] is None:
            del _rule[_k]


NOFILE_HARD = 1048576
CAP_SYS_RESOURCE = 24


def nofile_hard() -> int:
    """Docker's 1048576, unless we may not raise a hard limit (no
    CAP_SYS_RESOURCE, as in some sandboxes): then no more than our own, so
    the runtime's setrlimit cannot fail."""
    import resource
    with open("/proc/self/status") as f:
        eff = next((int(line.split()[1], 16) for line in f if line.startswith("CapEff:")), 0)
    if eff >> CAP_SYS_RESOURCE & 1:
        return NOFILE_HARD
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return NOFILE_HARD if hard == resource.RLIM_INFINITY else min(NOFILE_HARD, hard)


def default_spec(namespace: str = "default", container_id: str = "") -> dict:
    """A fresh spec (no shared sub-objects) for container_id in namespace."""
    caps = {k: list(DEFAULT_CAPS) for k in ("bounding", "effective", "permitted")}
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": False, "user": {"uid": 0, "gid": 0}, "args": [],
            "env": [PATH_ENV], "cwd": "/",
            "capabilities": caps,
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": nofile_hard(), "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": container_id[:12],
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc",
             "options": ["nosuid", "noexec", "nodev"]},
            *dev_and_sys_mounts(),
            {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        ],
        "linux": {
            "cgroupsPath": f"/{namespace}/{container_id}" if container_id else "",
            "resources": {"devices": [dict(r) for r in DEFAULT_DEVICE_RULES]},
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")],
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }
