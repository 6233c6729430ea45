"""OCI specs of pods: the pause container's and each container's, from
their CRI configs, as containerd's CRI plugin builds them.

Pure functions of the messages and what they name (paths, pids): the
services in pods.py and containers.py do the I/O."""
import os
import stat

from busybox_engine.cri import cri_api_pb2 as pb
from busybox_engine.oci.caps import ALL_CAPS, kernel_caps
from busybox_engine.oci.defaults import MASKED_PATHS, READONLY_PATHS
from busybox_engine.oci.defaultspec import DEFAULT_CAPS, default_spec
from busybox_engine.rpc.errors import InvalidArgument

PROPAGATION = {pb.PROPAGATION_PRIVATE: "rprivate", pb.PROPAGATION_HOST_TO_CONTAINER: "rslave",
               pb.PROPAGATION_BIDIRECTIONAL: "rshared"}
SIGNALS = {"SIGABRT": 6, "SIGALRM": 14, "SIGBUS": 7, "SIGCHLD": 17, "SIGCLD": 17, "SIGCONT": 18, "SIGFPE": 8,
           "SIGHUP": 1, "SIGILL": 4, "SIGINT": 2, "SIGIO": 29, "SIGIOT": 6, "SIGKILL": 9, "SIGPIPE": 13,
           "SIGPOLL": 29, "SIGPROF": 27, "SIGPWR": 30, "SIGQUIT": 3, "SIGSEGV": 11, "SIGSTKFLT": 16,
           "SIGSTOP": 19, "SIGSYS": 31, "SIGTERM": 15, "SIGTRAP": 5, "SIGTSTP": 20, "SIGTTIN": 21,
           "SIGTTOU": 22, "SIGURG": 23, "SIGUSR1": 10, "SIGUSR2": 12, "SIGVTALRM": 26, "SIGWINCH": 28,
           "SIGXCPU": 24, "SIGXFSZ": 25}
KIND = "io.cri-containerd.kind"                 # label of our containerd containers: sandbox | container
CONTAINER_TYPE = "io.kubernetes.cri.container-type"
SANDBOX_ID = "io.kubernetes.cri.sandbox-id"


def stop_signal(config: "pb.ContainerConfig", image_config: dict) -> int:
    """The container's stop signal: the config's, else the image's, else SIGTERM."""
    if config.stop_signal:
        name = pb.Signal.Name(config.stop_signal)
        if name in SIGNALS:
            return SIGNALS[name]
    text = ((image_config.get("config") or {}).get("StopSignal") or "").upper()
    if text:
        if text.isdigit():
            return int(text)
        return SIGNALS.get(text if text.startswith("SIG") else "SIG" + text, 15)
    return 15


def _cap(name: str) -> str:
    name = name.upper()
    return name if name.startswith("CAP_") else "CAP_" + name


def capabilities(sc: "pb.LinuxContainerSecurityContext") -> list:
    """The default set with the context's drops and adds ("ALL" in either).
    All of them, privileged or added, is what this host can give (as
    containerd takes the current process's): capset refuses the rest."""
    if sc.privileged:
        return kernel_caps()
    caps = list(DEFAULT_CAPS)
    adds = [_cap(c) for c in sc.capabilities.add_capabilities]
    drops = [_cap(c) for c in sc.capabilities.drop_capabilities]
    if "CAP_ALL" in adds:
        caps = kernel_caps()
    if "CAP_ALL" in drops:
        caps = []
    for c in adds:
        if c != "CAP_ALL" and c not in caps:
            if c not in ALL_CAPS:
                raise InvalidArgument(f"unknown capability {c!r} to add")
            caps.append(c)
    for c in drops:
        if c != "CAP_ALL" and c in caps and c not in adds:
            caps.remove(c)
    return caps


def _seccomp(profile: "pb.SecurityProfile | None", legacy: str, caps: list, privileged: bool) -> dict | None:
    """The OCI seccomp section: RuntimeDefault is Docker's default profile;
    Unconfined (and nothing set, as containerd 1.6) none; Localhost a
    Docker-format profile file at an absolute path."""
    from busybox_engine.api import seccomp_default
    if privileged:
        return None
    if profile is not None:
        kind, ref = profile.profile_type, profile.localhost_ref
    elif legacy in ("runtime/default", "docker/default"):
        kind, ref = pb.SecurityProfile.RuntimeDefault, ""
    elif legacy.startswith("localhost/"):
        kind, ref = pb.SecurityProfile.Localhost, legacy[len("localhost/"):]
    elif legacy in ("", "unconfined"):
        return None
    else:
        raise InvalidArgument(f"unsupported seccomp profile {legacy!r}")
    if kind == pb.SecurityProfile.Unconfined:
        return None
    if kind == pb.SecurityProfile.RuntimeDefault:
        return seccomp_default.profile(caps)
    if not ref or not os.path.isabs(ref):
        raise InvalidArgument(f"seccomp localhost profile {ref!r}: an absolute path is needed")
    import json
    try:
        with open(ref) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise InvalidArgument(f"failed to load seccomp profile {ref!r}: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"seccomp profile {ref!r}: not a JSON object")
    return seccomp_default.from_docker_profile(doc, caps)


def check_apparmor(profile: "pb.SecurityProfile | None", legacy: str) -> None:
    """This host has no AppArmor: the runtime's default and unconfined are
    nothing to do; a named profile cannot be had."""
    if profile is not None and profile.profile_type == pb.SecurityProfile.Localhost:
        raise InvalidArgument("apparmor is not supported on this host: "
                              f"profile {profile.localhost_ref!r} cannot be applied")
    if legacy.startswith("localhost/"):
        raise InvalidArgument(f"apparmor is not supported on this host: profile {legacy!r} cannot be applied")


def resources(r: "pb.LinuxContainerResources", min_oom_score_adj: int = -1000) -> tuple:
    """(OCI linux.resources without devices, oom_score_adj or None)."""
    out = {}
    cpu = {}
    if r.cpu_period:
        cpu["period"] = r.cpu_period
    if r.cpu_quota:
        cpu["quota"] = r.cpu_quota
    if r.cpu_shares:
        cpu["shares"] = r.cpu_shares
    if r.cpuset_cpus:
        cpu["cpus"] = r.cpuset_cpus
    if r.cpuset_mems:
        cpu["mems"] = r.cpuset_mems
    if cpu:
        out["cpu"] = cpu
    mem = {}
    if r.memory_limit_in_bytes:
        mem["limit"] = r.memory_limit_in_bytes
    if r.memory_swap_limit_in_bytes:
        mem["swap"] = r.memory_swap_limit_in_bytes
    if mem:
        out["memory"] = mem
    if r.hugepage_limits:
        out["hugepageLimits"] = [{"pageSize": h.page_size, "limit": h.limit} for h in r.hugepage_limits]
    if r.unified:
        out["unified"] = dict(r.unified)
    # kubelet asks for scores that this containerd may not set (its own is
    # higher when it runs in a restricted cgroup): the nearest it may
    oom = max(r.oom_score_adj, min_oom_score_adj) if r.oom_score_adj else None
    return out, oom


def _user(sc, image_config: dict) -> tuple:
    """(uid, gid or None, user name or None) the process runs as."""
    has_user = sc.HasField("run_as_user")
    if sc.HasField("run_as_group") and not has_user and not sc.run_as_username:
        raise InvalidArgument("user group is specified without user")
    if has_user and sc.run_as_username:
        raise InvalidArgument("only one of run_as_user and run_as_username may be set")
    gid = sc.run_as_group.value if sc.HasField("run_as_group") else None
    if has_user:
        return sc.run_as_user.value, gid, None
    if sc.run_as_username:
        return None, gid, sc.run_as_username
    image_user = (image_config.get("config") or {}).get("User") or ""
    if image_user:
        return None, gid, image_user
    return 0, gid, None


def _need_propagation(path: str, tags: tuple, what: str) -> None:
    """A propagating volume needs its host mount to propagate: the mount
    path is on must carry one of tags (shared:, master:) in mountinfo."""
    from busybox_engine.util import mountinfo
    entry = mountinfo.mount_of(path, mountinfo.read())
    if entry is None or not any(t.startswith(tags) for t in entry.tags):
        raise InvalidArgument(f"path {path!r} is mounted on {entry.point if entry else '/'!r} but it is not {what}")


def _bind(src: str, dst: str, ro: bool = False, propagation: str = "rprivate") -> dict:
    return {"destination": dst, "type": "bind", "source": src,
            "options": ["rbind", propagation, "ro" if ro else "rw"]}


def sandbox_spec(sid: str, config: "pb.PodSandboxConfig", args: list, env: dict | None, netns: str,
                 sandbox_dir: str, root_path: str, extra_mounts: list) -> dict:
    """The pause container: holds the pod's network (netns, pinned), IPC,
    UTS and PID namespaces; nothing else of the host."""
    spec = default_spec("k8s.io", sid)
    ns_opts = config.linux.security_context.namespace_options
    sc = config.linux.security_context
    spec["process"].update(args=args, cwd="/", noNewPrivileges=True,
                           capabilities={k: [] for k in ("bounding", "effective", "permitted")})
    if env:
        spec["process"]["env"] = spec["process"]["env"] + [f"{k}={v}" for k, v in env.items()]
    if sc.HasField("run_as_user"):
        spec["process"]["user"] = {"uid": sc.run_as_user.value,
                                   "gid": sc.run_as_group.value if sc.HasField("run_as_group") else 0}
    spec["root"] = {"path": root_path, "readonly": True}
    namespaces = [{"type": "mount"}]
    if ns_opts.network != pb.NODE:
        namespaces.append({"type": "network", "path": netns})
        namespaces.append({"type": "uts"})
        spec["hostname"] = config.hostname
    else:
        spec.pop("hostname", None)
    if ns_opts.ipc != pb.NODE:
        namespaces.append({"type": "ipc"})
    if ns_opts.pid != pb.NODE:
        namespaces.append({"type": "pid"})
    spec["linux"]["namespaces"] = namespaces
    spec["linux"]["cgroupsPath"] = cgroup_path(config, sid)
    if config.linux.sysctls:
        spec["linux"]["sysctl"] = dict(config.linux.sysctls)
    spec["mounts"] = [m for m in spec["mounts"] if m["destination"] != "/dev/shm"] + extra_mounts
    spec["annotations"] = {CONTAINER_TYPE: "sandbox", SANDBOX_ID: sid,
                           "io.kubernetes.cri.sandbox-name": config.metadata.name,
                           "io.kubernetes.cri.sandbox-namespace": config.metadata.namespace,
                           "io.kubernetes.cri.sandbox-uid": config.metadata.uid,
                           "io.kubernetes.cri.sandbox-log-directory": config.log_directory}
    return spec


def cgroup_path(sandbox: "pb.PodSandboxConfig", cid: str) -> str:
    parent = sandbox.linux.cgroup_parent
    if parent:
        if not parent.startswith("/") or ".." in parent.split("/"):
            raise InvalidArgument(f"invalid cgroup parent {parent!r}")
        return parent.rstrip("/") + "/" + cid
    return f"/k8s.io/{cid}"


def container_spec(cid: str, sid: str, config: "pb.ContainerConfig", sandbox: "pb.PodSandboxConfig",
                   image_config: dict, image_name: str, pause_pid: int, netns: str, sandbox_dir: str,
                   target_pid: int = 0, min_oom_score_adj: int = -1000) -> tuple:
    """(spec, user name to resolve in the rootfs or None) of a container
    of sandbox sid, whose pause process is pause_pid."""
    spec = default_spec("k8s.io", cid)
    img = image_config.get("config") or {}
    command, args = list(config.command), list(config.args)
    if not command:
        if not args:
            args = list(img.get("Cmd") or [])
        command = list(img.get("Entrypoint") or [])
    argv = command + args
    if not argv:
        raise InvalidArgument("no command specified")
    env = {}
    for item in list(img.get("Env") or []):
        k, _, v = item.partition("=")
        env[k] = v
    for kv in config.envs:
        env[kv.key] = kv.value
    sc = config.linux.security_context
    ssc = sandbox.linux.security_context
    if sc.privileged and not ssc.privileged:
        raise InvalidArgument("no privileged container allowed in sandbox")
    proc = spec["process"]
    proc.update(args=argv, cwd=config.working_dir or img.get("WorkingDir") or "/", terminal=config.tty,
                env=[f"{k}={v}" for k, v in env.items()])
    if "PATH" not in env:
        proc["env"].insert(0, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    uid, gid, user_name = _user(sc, image_config)
    if uid is not None:
        proc["user"] = {"uid": uid, "gid": gid or 0}
    if sc.supplemental_groups:
        proc["user"]["additionalGids"] = list(sc.supplemental_groups)
    caps = capabilities(sc)
    proc["capabilities"] = {k: list(caps) for k in ("bounding", "effective", "permitted")}
    if sc.capabilities.add_ambient_capabilities:
        amb = [_cap(c) for c in sc.capabilities.add_ambient_capabilities]
        proc["capabilities"]["ambient"] = amb
        proc["capabilities"]["inheritable"] = amb
        for k in ("bounding", "effective", "permitted"):
            proc["capabilities"][k] += [c for c in amb if c not in proc["capabilities"][k]]
    proc["noNewPrivileges"] = bool(sc.no_new_privs)
    spec["root"] = {"path": "rootfs", "readonly": bool(sc.readonly_rootfs)}
    if ssc.namespace_options.network != pb.NODE:
        spec["hostname"] = sandbox.hostname
    else:
        spec.pop("hostname", None)   # the host's UTS namespace: its name stays
    linux = spec["linux"]
    # namespaces: the pod's network, IPC and UTS; PID as namespace_options says
    ns_opts = sc.namespace_options
    namespaces = [{"type": "mount"}]
    pod_ns = ssc.namespace_options
    if pod_ns.network != pb.NODE:
        namespaces.append({"type": "network", "path": netns})
        namespaces.append({"type": "uts", "path": f"/proc/{pause_pid}/ns/uts"})
    if pod_ns.ipc != pb.NODE:
        namespaces.append({"type": "ipc", "path": f"/proc/{pause_pid}/ns/ipc"})
    if ns_opts.pid == pb.POD:
        namespaces.append({"type": "pid", "path": f"/proc/{pause_pid}/ns/pid"})
    elif ns_opts.pid == pb.TARGET:
        if not target_pid:
            raise InvalidArgument(f"target container {ns_opts.target_id!r} of the PID namespace is not running")
        namespaces.append({"type": "pid", "path": f"/proc/{target_pid}/ns/pid"})
    elif ns_opts.pid == pb.CONTAINER:
        namespaces.append({"type": "pid"})
    linux["namespaces"] = namespaces
    linux["cgroupsPath"] = cgroup_path(sandbox, cid)
    # mounts: the pod's /etc files and /dev/shm, then the config's
    wanted = {m.container_path for m in config.mounts}
    mounts = [m for m in spec["mounts"] if m["destination"] != "/dev/shm"]
    if sc.privileged:
        for m in mounts:
            if m["type"] == "sysfs":
                m["options"] = [o for o in m["options"] if o != "ro"] + ["rw"]
    for name in ("hostname", "hosts", "resolv.conf"):
        dst = "/etc/" + name
        if dst not in wanted and os.path.exists(os.path.join(sandbox_dir, name)):
            mounts.append(_bind(os.path.join(sandbox_dir, name), dst, ro=bool(sc.readonly_rootfs)))
    if "/dev/shm" not in wanted:
        if pod_ns.ipc == pb.NODE:
            mounts.append(_bind("/dev/shm", "/dev/shm"))
        else:
            mounts.append({"destination": "/dev/shm", "type": "bind", "source": os.path.join(sandbox_dir, "shm"),
                           "options": ["rbind", "ro" if sc.readonly_rootfs else "rw"]})
    for m in config.mounts:
        if not m.container_path or not os.path.isabs(m.container_path):
            raise InvalidArgument(f"mount destination {m.container_path!r} is not an absolute path")
        if m.HasField("image") and m.image.image:
            raise InvalidArgument("image volume mounts are not supported")
        src = m.host_path
        if not src or not os.path.isabs(src):
            raise InvalidArgument(f"mount source {src!r} is not an absolute path")
        if not os.path.exists(src):
            os.makedirs(src, mode=0o755, exist_ok=True)   # as containerd does
        src = os.path.realpath(src)
        ro = m.readonly or m.recursive_read_only
        if m.propagation == pb.PROPAGATION_BIDIRECTIONAL:
            _need_propagation(src, ("shared:",), "a shared mount")
            linux["rootfsPropagation"] = "rshared"   # or the container's mounts never reach the host
        elif m.propagation == pb.PROPAGATION_HOST_TO_CONTAINER:
            _need_propagation(src, ("shared:", "master:"), "a shared or slave mount")
            if linux.get("rootfsPropagation") != "rshared":
                linux["rootfsPropagation"] = "rslave"
        entry = _bind(src, m.container_path, ro=ro, propagation=PROPAGATION.get(m.propagation, "rprivate"))
        if m.recursive_read_only:
            if not m.readonly or m.propagation != pb.PROPAGATION_PRIVATE:
                raise InvalidArgument("recursive read-only mounts need readonly and private propagation")
            entry["options"].append("rro")
        mounts.append(entry)
    spec["mounts"] = mounts
    # devices
    devices = linux["resources"]["devices"]
    if sc.privileged:
        devices[:] = [{"allow": True, "access": "rwm"}]
        linux.pop("maskedPaths", None)
        linux.pop("readonlyPaths", None)
    else:
        linux["maskedPaths"] = list(sc.masked_paths) or list(MASKED_PATHS)
        linux["readonlyPaths"] = list(sc.readonly_paths) or list(READONLY_PATHS)
    linux_devices = []
    for d in config.devices:
        try:
            st = os.stat(d.host_path)
        except OSError as e:
            raise InvalidArgument(f"device {d.host_path!r}: {e.strerror}") from None
        if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
            raise InvalidArgument(f"{d.host_path!r} is not a device")
        kind = "c" if stat.S_ISCHR(st.st_mode) else "b"
        major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
        linux_devices.append({"path": d.container_path or d.host_path, "type": kind, "major": major,
                              "minor": minor, "fileMode": stat.S_IMODE(st.st_mode), "uid": 0, "gid": 0})
        perms = "".join(c for c in (d.permissions or "rwm") if c in "rwm")
        devices.append({"allow": True, "type": kind, "major": major, "minor": minor, "access": perms})
    if linux_devices:
        linux["devices"] = linux_devices
    res, oom = resources(config.linux.resources, min_oom_score_adj)
    linux["resources"].update(res)
    if oom is not None:
        proc["oomScoreAdj"] = oom
    check_apparmor(sc.apparmor if sc.HasField("apparmor") else None, sc.apparmor_profile)
    seccomp = _seccomp(sc.seccomp if sc.HasField("seccomp") else None, sc.seccomp_profile_path,
                       caps, sc.privileged)
    if seccomp is not None:
        linux["seccomp"] = seccomp
    spec["annotations"] = {CONTAINER_TYPE: "container", SANDBOX_ID: sid,
                           "io.kubernetes.cri.container-name": config.metadata.name,
                           "io.kubernetes.cri.image-name": image_name,
                           "io.kubernetes.cri.sandbox-name": sandbox.metadata.name,
                           "io.kubernetes.cri.sandbox-namespace": sandbox.metadata.namespace,
                           "io.kubernetes.cri.sandbox-uid": sandbox.metadata.uid}
    return spec, user_name
