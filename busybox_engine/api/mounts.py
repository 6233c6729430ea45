"""A container's binds, volumes and API mounts resolved into OCI mounts,
and the MountPoints Docker shows in inspect. Named volumes are created on
first use, the image's VOLUMEs get anonymous ones."""
import os

from busybox_engine.api.spec import bind_mount, split_bind
from busybox_engine.rpc.errors import InvalidArgument


def _point(kind: str, src: str, dst: str, rw: bool, name: str = "", mode: str = "",
           propagation: str = "") -> dict:
    p = {"Type": kind, "Source": src, "Destination": dst, "Mode": mode, "RW": rw,
         "Propagation": propagation}
    if kind == "volume":
        p = {"Type": kind, "Name": name, "Source": src, "Destination": dst, "Driver": "local",
             "Mode": mode, "RW": rw, "Propagation": propagation}
    return p


def resolve(config: dict, host_config: dict, volumes, containers=None) -> tuple:
    """(oci mounts, mount points, names of volumes made for it);
    containers: the ContainerStore VolumesFrom names containers in."""
    mounts, points, made = [], [], []
    taken = set()
    inherited = _volumes_from(host_config, containers)
    own = {split_bind(b)[1] for b in host_config.get("Binds") or [] if b.count(":") in (1, 2)}
    own |= {m.get("Target") for m in host_config.get("Mounts") or [] if isinstance(m, dict)}
    for m, p in inherited:
        if m["destination"] in own or m["destination"] in taken:
            continue   # the container's own mounts win
        taken.add(m["destination"])
        mounts.append(m)
        points.append(p)

    def volume(name: str, labels=None, options=None) -> str:
        if not name or not volumes.exists(name):
            v = volumes.create(name, labels, options)
            made.append(v["Name"])
            return v["Name"]
        return name

    for text in host_config.get("Binds") or []:
        src, dst, opts = split_bind(text)
        if dst in taken:
            raise InvalidArgument(f"Duplicate mount point: {dst}")
        taken.add(dst)
        m = bind_mount(src, dst, opts)
        mode = ",".join(opts)
        if os.path.isabs(src):
            if not os.path.exists(src):
                os.makedirs(src, exist_ok=True)   # as Docker does for -v
            points.append(_point("bind", src, dst, "ro" not in opts, mode=mode,
                                 propagation=m["options"][-1]))
        else:
            name = volume(src)
            m["source"] = volumes.mount(name)
            points.append(_point("volume", m["source"], dst, "ro" not in opts, name, mode))
        mounts.append(m)
    for spec in host_config.get("Mounts") or []:
        if not isinstance(spec, dict):
            raise InvalidArgument("invalid mount config: not an object")
        kind = spec.get("Type") or "volume"
        dst = spec.get("Target") or ""
        if not dst:
            raise InvalidArgument(f"invalid mount config for type \"{kind}\": field Target must not be empty")
        if not os.path.isabs(dst):
            raise InvalidArgument(f"invalid mount config for type \"{kind}\": invalid mount path: "
                                  f"'{dst}' mount path must be absolute")
        if dst in taken:
            raise InvalidArgument(f"Duplicate mount point: {dst}")
        taken.add(dst)
        ro = bool(spec.get("ReadOnly"))
        src = spec.get("Source") or ""
        if kind == "bind":
            if not os.path.isabs(src):
                raise InvalidArgument(f"invalid mount config for type \"bind\": invalid mount path: "
                                      f"'{src}' mount path must be absolute")
            if not os.path.exists(src):
                raise InvalidArgument(f"invalid mount config for type \"bind\": bind source path "
                                      f"does not exist: {src}")
            prop = (spec.get("BindOptions") or {}).get("Propagation") or "rprivate"
            mounts.append(bind_mount(src, dst, ["ro" if ro else "rw", prop]))
            points.append(_point("bind", src, dst, not ro, propagation=prop))
        elif kind == "volume":
            vo = spec.get("VolumeOptions") or {}
            name = volume(src, vo.get("Labels"), (vo.get("DriverConfig") or {}).get("Options"))
            path = volumes.mount(name)
            mounts.append(bind_mount(path, dst, ["ro" if ro else "rw"]))
            points.append(_point("volume", path, dst, not ro, name, "z"))
        elif kind == "tmpfs":
            opts = ["nosuid", "nodev", "noexec"]
            t = spec.get("TmpfsOptions") or {}
            if t.get("SizeBytes"):
                opts.append(f"size={int(t['SizeBytes'])}")
            if t.get("Mode"):
                opts.append(f"mode={int(t['Mode']):o}")
            if ro:
                opts.append("ro")
            mounts.append({"destination": dst, "type": "tmpfs", "source": "tmpfs", "options": opts})
            points.append(_point("tmpfs", "", dst, not ro))
        else:
            raise InvalidArgument(f"mount type unknown or not supported here: {kind}")
    for dst in (config.get("Volumes") or {}):
        if dst in taken or dst in (host_config.get("Tmpfs") or {}):
            continue
        taken.add(dst)
        name = volume("")
        path = volumes.mount(name)
        mounts.append(bind_mount(path, dst, ["rw"]))
        points.append(_point("volume", path, dst, True, name))
    return mounts, points, made


def _volumes_from(host_config: dict, containers) -> list:
    """(oci mount, mount point) of each mount of the containers VolumesFrom
    names, read-only or read-write as asked (or as they had them)."""
    out = []
    for text in host_config.get("VolumesFrom") or []:
        name, _, mode = text.partition(":")
        if mode not in ("", "ro", "rw", "z", "Z"):
            raise InvalidArgument(f"invalid mode for volumes-from: {mode}")
        if containers is None:
            raise InvalidArgument("volumes-from: no containers to take volumes from")
        other = containers.get(name)     # No such container: 404
        for p in other.data.get("MountPoints") or []:
            if p.get("Type") not in ("bind", "volume"):
                continue
            rw = p.get("RW", True) if mode in ("", "z", "Z") else mode == "rw"
            m = bind_mount(p["Source"], p["Destination"], ["rw" if rw else "ro"])
            q = dict(p, RW=rw, Mode=mode or p.get("Mode", ""))
            out.append((m, q))
    return out
