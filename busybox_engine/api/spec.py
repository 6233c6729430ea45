"""A Docker container's Config + HostConfig (and its image's config) as an
OCI runtime spec, with Docker's defaults: 14 capabilities, masked and
read-only paths, /dev/shm of 64 MiB, /etc/hosts, /etc/hostname and
/etc/resolv.conf bound from the container's directory; --privileged drops
those limits as Docker does."""
import os

from busybox_engine.oci.caps import ALL_CAPS, kernel_caps  # noqa: F401 - kernel_caps: routes use it from here
from busybox_engine.oci.defaults import PATH_ENV
from busybox_engine.oci.defaultspec import default_spec
from busybox_engine.rpc.errors import InvalidArgument

SHM_SIZE = 64 * 1024 * 1024
CPU_PERIOD = 100000
USER_ANNOTATION = "io.busybox-engine.user"   # a user name containerd resolves in the rootfs

RLIMITS = {"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
           "nproc", "rss", "rtprio", "rttime", "sigpending", "stack", "as"}


def merge_env(image_env: list, env: list) -> list:
    """The image's environment with the container's on top (same name wins)."""
    out, index = [], {}
    for entry in list(image_env or []) + list(env or []):
        name = entry.split("=", 1)[0]
        if name in index:
            out[index[name]] = entry
        else:
            index[name] = len(out)
            out.append(entry)
    return out


def command(config: dict, image_config: dict) -> list:
    """Entrypoint + Cmd as Docker resolves them: a container's Entrypoint
    drops the image's Cmd unless Cmd is given too."""
    entrypoint = config.get("Entrypoint")
    cmd = config.get("Cmd")
    if entrypoint is None:
        entrypoint = image_config.get("Entrypoint") or []
        if not cmd:
            cmd = image_config.get("Cmd") or []
    return list(entrypoint or []) + list(cmd or [])


def _caps(name: str) -> str:
    name = name.upper()
    return name if name.startswith("CAP_") else "CAP_" + name


def capabilities(host_config: dict) -> list:
    if host_config.get("Privileged"):
        return kernel_caps()
    from busybox_engine.oci.defaultspec import DEFAULT_CAPS
    caps = list(DEFAULT_CAPS)
    adds = [_caps(c) for c in host_config.get("CapAdd") or []]
    drops = [_caps(c) for c in host_config.get("CapDrop") or []]
    for c in adds + drops:
        if c != "CAP_ALL" and c not in ALL_CAPS:
            raise InvalidArgument(f"unknown capability: \"{c}\"")
    if "CAP_ALL" in drops:
        caps = []
    else:
        caps = [c for c in caps if c not in drops]
    if "CAP_ALL" in adds:
        caps = [c for c in kernel_caps() if c not in drops]
    else:
        caps += [c for c in adds if c not in caps]
    return caps


def split_bind(text: str) -> tuple:
    """-v SRC:DST[:OPTS] -> (source, destination, options); SRC a host path
    or a volume name."""
    parts = text.split(":")
    if len(parts) < 2 or len(parts) > 3 or not parts[0] or not parts[1]:
        raise InvalidArgument(f"invalid volume specification: '{text}'")
    src, dst = parts[0], parts[1]
    opts = parts[2].split(",") if len(parts) == 3 and parts[2] else []
    if not os.path.isabs(dst):
        raise InvalidArgument(f"invalid volume specification: '{text}': "
                              "mount path must be absolute")
    for o in opts:
        if o not in ("ro", "rw", "z", "Z", "nocopy", "shared", "rshared", "slave", "rslave",
                     "private", "rprivate"):
            raise InvalidArgument(f"invalid mode: {o}")
    return src, dst, opts


def bind_mount(src: str, dst: str, opts: list) -> dict:
    options = ["rbind", "ro" if "ro" in opts else "rw"]
    prop = [o for o in opts if o.endswith(("shared", "slave", "private"))]
    options += prop or ["rprivate"]
    return {"destination": dst, "type": "bind", "source": src, "options": options}


INIT_PATH = "/sbin/docker-init"


def find_init() -> str:
    """The host's docker-init (tini, static), which --init binds into the container."""
    import shutil
    for name in ("docker-init", "tini-static"):
        found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/bin:/usr/local/bin:/usr/libexec/docker")
        if found:
            return os.path.realpath(found)
    raise InvalidArgument("exec: \"docker-init\": executable file not found in $PATH")


def build(cid: str, cdir: str, config: dict, host_config: dict, image_config: dict,
          extra_mounts: list | None = None, seccomp_profile: dict | None = None,
          init: bool = False) -> dict:
    """The OCI spec of container cid (its files in cdir); extra_mounts: the
    container's binds and volumes, resolved (api.mounts.resolve)."""
    spec = default_spec("docker", cid)
    spec["linux"]["cgroupsPath"] = f"/docker/{cid}"
    # Docker mounts no tmpfs on /run: the image's /run shows through
    spec["mounts"] = [m for m in spec["mounts"] if m["destination"] != "/run"]
    # and its own cgroups at /sys/fs/cgroup, read-only, as Docker's spec has
    spec["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                           "options": ["ro", "nosuid", "noexec", "nodev"]})
    proc = spec["process"]
    proc["args"] = command(config, image_config)
    if not proc["args"]:
        raise InvalidArgument("No command specified")
    env = merge_env(image_config.get("Env") or [PATH_ENV], config.get("Env") or [])
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, PATH_ENV)
    hostname = config.get("Hostname") or cid[:12]
    env = merge_env([f"HOSTNAME={hostname}"], env)
    if config.get("Tty") and not any(e.startswith("TERM=") for e in env):
        env.append("TERM=xterm")
    proc["env"] = env
    proc["cwd"] = config.get("WorkingDir") or image_config.get("WorkingDir") or "/"
    proc["terminal"] = bool(config.get("Tty"))
    proc["noNewPrivileges"] = False
    user = config.get("User") or image_config.get("User") or ""
    if user:
        uid, _, gid = user.partition(":")
        if uid.isdigit() and (not gid or gid.isdigit()):
            proc["user"] = {"uid": int(uid), "gid": int(gid or 0)}
        else:
            spec.setdefault("annotations", {})[USER_ANNOTATION] = user
    groups = host_config.get("GroupAdd") or []
    if groups:
        if not all(str(g).isdigit() for g in groups):
            raise InvalidArgument("group-add: only numeric group ids for now")
        proc["user"]["additionalGids"] = [int(g) for g in groups]
    spec["hostname"] = hostname
    if config.get("Domainname"):
        spec["domainname"] = config["Domainname"]

    caps = capabilities(host_config)
    proc["capabilities"] = {k: list(caps) for k in ("bounding", "effective", "permitted")}
    linux = spec["linux"]
    privileged = bool(host_config.get("Privileged"))
    sec = host_config.get("SecurityOpt") or []
    seccomp = None
    for opt in sec:
        key, _, value = opt.partition("=") if "=" in opt else opt.partition(":")
        if key == "no-new-privileges":
            proc["noNewPrivileges"] = value in ("", "true")
        elif key == "seccomp":
            seccomp = value
        elif key == "apparmor":
            raise InvalidArgument("apparmor is not supported on this host")
        elif key == "label":
            pass
        else:
            raise InvalidArgument(f"Invalid --security-opt: {opt!r}")
    if not privileged and seccomp != "unconfined":
        from busybox_engine.api import seccomp_default
        try:
            if seccomp:   # the profile itself, as the CLI sends it
                import json
                linux["seccomp"] = seccomp_default.from_docker_profile(json.loads(seccomp), caps)
            elif seccomp_profile is not None:
                linux["seccomp"] = seccomp_default.from_docker_profile(seccomp_profile, caps)
            else:
                linux["seccomp"] = seccomp_default.profile(caps)
        except (ValueError, TypeError, AttributeError) as e:
            raise InvalidArgument(f"Decoding seccomp profile failed: {e}") from None
    from busybox_engine.api import devices
    nodes, rules = devices.requested(host_config)
    if nodes:
        linux["devices"] = nodes
        linux["resources"]["devices"] += rules
    linux["resources"]["devices"] += devices.cgroup_rules(host_config)
    if privileged:
        linux["maskedPaths"] = []
        linux["readonlyPaths"] = []
        linux["resources"]["devices"] = [{"allow": True, "access": "rwm"}]
        # every host device, as Docker gives a privileged container
        taken = {d["path"] for d in nodes}
        linux["devices"] = nodes + [d for d in devices.host_devices() if d["path"] not in taken]
        for m in spec["mounts"]:
            if m["destination"] in ("/sys", "/sys/fs/cgroup"):
                m["options"] = [o for o in m["options"] if o != "ro"]

    # namespaces
    drop = set()
    if host_config.get("NetworkMode") == "host":
        drop.add("network")
    if host_config.get("PidMode") == "host":
        drop.add("pid")
    if host_config.get("IpcMode") == "host":
        drop.add("ipc")
    if host_config.get("UTSMode") == "host":
        drop.add("uts")
        spec.pop("hostname", None)
    linux["namespaces"] = [n for n in linux["namespaces"] if n["type"] not in drop]
    if host_config.get("CgroupnsMode") == "private":
        linux["namespaces"].append({"type": "cgroup"})

    # mounts
    mounts = spec["mounts"]
    shm = host_config.get("ShmSize") or SHM_SIZE
    for m in mounts:
        if m["destination"] == "/dev/shm":
            m["options"] = [o for o in m["options"] if not o.startswith("size=")] + [f"size={shm}"]
    defaults, mounts = mounts, []
    for name in ("hosts", "hostname", "resolv.conf"):
        mounts.append({"destination": f"/etc/{name}", "type": "bind",
                       "source": os.path.join(cdir, name), "options": ["rbind", "rprivate"]})
    mounts += [dict(m) for m in extra_mounts or []]
    use_init = host_config.get("Init")
    if use_init if use_init is not None else init:
        # PID 1 forwards signals and reaps zombies: the host's tini, bound in as Docker does
        mounts.append({"destination": INIT_PATH, "type": "bind", "source": find_init(),
                       "options": ["bind", "ro"]})
        proc["args"] = [INIT_PATH, "--"] + proc["args"]
    for path, opts in (host_config.get("Tmpfs") or {}).items():
        options = ["nosuid", "nodev", "noexec"] + [o for o in (opts or "").split(",") if o]
        mounts.append({"destination": path, "type": "tmpfs", "source": "tmpfs", "options": options})
    if host_config.get("ReadonlyRootfs"):
        spec["root"]["readonly"] = True
    # the user's mounts after the defaults, a default replaced by one at
    # its place, shallow before deep (a volume at /etc under /etc/hosts),
    # as Docker orders them
    taken = {m["destination"].rstrip("/") for m in mounts}
    mounts.sort(key=lambda m: len([p for p in m["destination"].split("/") if p]))
    spec["mounts"] = [m for m in defaults if m["destination"] not in taken] + mounts

    linux["resources"].update(resources(host_config))
    if host_config.get("OomScoreAdj"):
        proc["oomScoreAdj"] = int(host_config["OomScoreAdj"])
    sysctls = host_config.get("Sysctls") or {}
    if sysctls:
        linux["sysctl"] = dict(sysctls)
    for u in host_config.get("Ulimits") or []:
        name = str(u.get("Name", "")).lower()
        if name not in RLIMITS:
            raise InvalidArgument(f"invalid ulimit type: {name}")
        proc["rlimits"] = [r for r in proc["rlimits"] if r["type"] != f"RLIMIT_{name.upper()}"]
        proc["rlimits"].append({"type": f"RLIMIT_{name.upper()}", "soft": int(u.get("Soft", 0)),
                                "hard": int(u.get("Hard", 0))})
    return spec


def resources(host_config: dict) -> dict:
    """The runtime-spec linux.resources (devices aside) of Docker's
    resource fields; what `docker update` changes in a running container."""
    res = {}
    mem = {}
    if host_config.get("Memory"):
        mem["limit"] = int(host_config["Memory"])
        swap = host_config.get("MemorySwap")
        if swap:
            mem["swap"] = int(swap)
        elif swap is None or swap == 0:
            mem["swap"] = 2 * mem["limit"]  # Docker: swap as much as memory
    if host_config.get("MemoryReservation"):
        mem["reservation"] = int(host_config["MemoryReservation"])
    if host_config.get("OomKillDisable"):
        mem["disableOOMKiller"] = True
    if mem:
        res["memory"] = mem
    cpu = {}
    if host_config.get("NanoCpus"):
        cpu["period"] = CPU_PERIOD
        cpu["quota"] = int(host_config["NanoCpus"]) * CPU_PERIOD // 10**9
    if host_config.get("CpuQuota"):
        cpu["quota"] = int(host_config["CpuQuota"])
    if host_config.get("CpuPeriod"):
        cpu["period"] = int(host_config["CpuPeriod"])
    if host_config.get("CpuShares"):
        cpu["shares"] = int(host_config["CpuShares"])
    if host_config.get("CpusetCpus"):
        cpu["cpus"] = host_config["CpusetCpus"]
    if host_config.get("CpusetMems"):
        cpu["mems"] = host_config["CpusetMems"]
    if cpu:
        res["cpu"] = cpu
    if host_config.get("PidsLimit"):
        res["pids"] = {"limit": int(host_config["PidsLimit"])}
    for key, spec_key in (("CpuRealtimePeriod", "realtimePeriod"), ("CpuRealtimeRuntime", "realtimeRuntime")):
        if host_config.get(key):
            res.setdefault("cpu", {})[spec_key] = int(host_config[key])
    bio = {}
    if host_config.get("BlkioWeight"):
        bio["weight"] = int(host_config["BlkioWeight"])
    from busybox_engine.api.devices import block_devices
    for key, value_key, spec_key, out_key in (
            ("BlkioWeightDevice", "Weight", "weight", "weightDevice"),
            ("BlkioDeviceReadBps", "Rate", "rate", "throttleReadBpsDevice"),
            ("BlkioDeviceWriteBps", "Rate", "rate", "throttleWriteBpsDevice"),
            ("BlkioDeviceReadIOps", "Rate", "rate", "throttleReadIOPSDevice"),
            ("BlkioDeviceWriteIOps", "Rate", "rate", "throttleWriteIOPSDevice")):
        if host_config.get(key):
            bio[out_key] = block_devices(host_config[key], value_key, spec_key)
    if bio:
        res["blockIO"] = bio
    return res
