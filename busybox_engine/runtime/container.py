"""The parent side of the runtime: create, start, kill, delete.

create clones the init into its new namespaces, writes its uid/gid maps,
puts it in its cgroup, runs the runtime hooks, and returns once the init
waits on the exec fifo; start releases it. An error at any step undoes
everything create did: no process, cgroup, mount or state directory stays.
"""
import os
import time

from busybox_engine.runtime import state
from busybox_engine.runtime.cgroups import manager_for
from busybox_engine.runtime.errors import ContainerExists, RuntimeFailure, WrongState

# create's modules (namespaces, the spec, the sync pipes) are imported by
# it: start, kill and delete are whole runc runs of their own, and each
# module costs every one of them its import.

SIGKILL = 9


class CreateOptions:
    def __init__(self, bundle: str, pid_file: str | None = None,
                 console_socket: str | None = None, no_pivot: bool = False,
                 preserve_fds: int = 0, foreground: bool = False, console_fd: int = -1,
                 spec: dict | None = None, warn=None, no_new_keyring: bool = False, debug=None):
        self.bundle = os.path.abspath(bundle)
        self.pid_file = pid_file
        self.console_socket = console_socket
        self.no_pivot = no_pivot
        self.preserve_fds = preserve_fds
        self.foreground = foreground
        self.console_fd = console_fd  # a connected socket in place of console_socket
        self.spec = spec              # config.json already loaded by the caller
        self.warn = warn or (lambda msg: None)
        self.debug = debug or (lambda msg: None)   # runc --debug's lines
        self.no_new_keyring = no_new_keyring


def _write_id_map(pid: int, name: str, mappings: list) -> None:
    text = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in mappings)
    fd = os.open(f"/proc/{pid}/{name}", os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    except OSError as e:
        raise OSError(e.errno, f"write `{name}` of {pid}: {e.strerror}") from None
    finally:
        os.close(fd)


def _namespaces(spec: dict) -> tuple:
    """(clone flags, [(type, path)] to join in the child, pid ns path)."""
    from busybox_engine.core_pyx import ns
    flags, join, pid_path = 0, [], None
    entries = (spec.get("linux") or {}).get("namespaces") or []
    user_path = next((n.get("path") for n in entries if n["type"] == "user" and n.get("path")), None)
    for n in entries:
        kind, path = n["type"], n.get("path")
        flag, proc_name = ns.TYPES[kind]
        if path:
            _check_ns_path(path, proc_name)
            if kind == "pid":
                pid_path = path
            elif kind == "user":
                join.insert(0, (kind, path))
            else:
                join.append((kind, path))
        else:
            flags |= flag
    # a cgroup namespace is rooted where the init is when it is made: the
    # init makes it after the parent has put it in its cgroup
    unshare = flags & ns.CLONE_NEWCGROUP
    flags &= ~ns.CLONE_NEWCGROUP
    # clone() cannot take CLONE_NEWTIME (it is a CSIGNAL bit there): a new
    # time namespace is made for children around the clone (ChildNamespaces)
    flags &= ~ns.CLONE_NEWTIME
    if user_path:
        # namespaces made after joining a user namespace belong to it
        unshare |= flags & ~ns.CLONE_NEWPID
        flags &= ns.CLONE_NEWPID
    return flags, unshare, join, pid_path


def _check_ns_path(path: str, proc_name: str) -> None:
    try:
        target = os.readlink(path) if os.path.islink(path) else None
        if target is None:
            # a bind-mounted nsfs file: compare with the kind's own link
            st = os.stat(path)
            if os.stat(f"/proc/self/ns/{proc_name}").st_dev != st.st_dev:
                raise RuntimeFailure(f"namespace path {path} is not a {proc_name} namespace")
            return
    except OSError as e:
        raise RuntimeFailure(f"namespace path {path}: {e.strerror}") from None
    if not target.startswith(f"{proc_name}:["):
        raise RuntimeFailure(f"namespace path {path} is not a {proc_name} namespace ({target})")


def security_label_warnings(spec: dict) -> list:
    """LSM labels we cannot apply: AppArmor and SELinux are not used by this
    runtime, and hosts like this one have neither; say so instead of failing."""
    out = []
    profile = spec["process"].get("apparmorProfile")
    if profile:
        try:
            with open("/sys/module/apparmor/parameters/enabled") as f:
                enabled = f.read().strip() == "Y"
        except OSError:
            enabled = False
        out.append(f"apparmor profile {profile!r} not applied: "
                   + ("this runtime does not load AppArmor profiles" if enabled
                      else "AppArmor is not enabled on this host"))
    label = spec["process"].get("selinuxLabel") or (spec.get("linux") or {}).get("mountLabel")
    if label:
        enabled = os.path.exists("/sys/fs/selinux/enforce")
        out.append(f"selinux label {label!r} not applied: "
                   + ("this runtime does not set SELinux labels" if enabled
                      else "SELinux is not enabled on this host"))
    return out


def capability_warnings(process: dict) -> list:
    """Capabilities this kernel does not know are left out, as runc 1.1
    leaves them out: with a warning, not an error."""
    from busybox_engine.runtime import caps
    known = caps.last_cap()
    unknown = []
    for names in (process.get("capabilities") or {}).values():
        for name in caps.mask(names or [], known)[1]:
            if name not in unknown:
                unknown.append(name)
    return [f"ignoring unknown or unavailable capabilities: [{' '.join(unknown)}]"] if unknown else []


class ChildNamespaces:
    """pid and time namespaces take effect for a process's children: the
    parent enters them around the clone and goes back to its own after."""

    def __init__(self):
        from busybox_engine.core_pyx import ns
        self.ns = ns
        self.restore = []

    def join(self, kind: str, path: str) -> None:
        ns = self.ns
        flag, proc_name = ns.TYPES[kind]
        own = os.open(f"/proc/self/ns/{proc_name}", os.O_RDONLY | os.O_CLOEXEC)
        self.restore.append((own, flag, proc_name))
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            ns.setns(fd, flag, path)
        finally:
            os.close(fd)

    def new_time(self, offsets: dict) -> None:
        ns = self.ns
        own = os.open("/proc/self/ns/time", os.O_RDONLY | os.O_CLOEXEC)
        self.restore.append((own, ns.CLONE_NEWTIME, "time"))
        ns.unshare_ns(ns.CLONE_NEWTIME)
        text = "".join(f"{clock} {o.get('secs', 0)} {o.get('nanosecs', 0)}\n"
                       for clock, o in (offsets or {}).items())
        if text:
            with open("/proc/self/timens_offsets", "w") as f:
                f.write(text)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for own, flag, name in reversed(self.restore):
            self.ns.setns(own, flag, f"/proc/self/ns/{name}")
            os.close(own)
        self.restore = []


def create(root: str, cid: str, opts: CreateOptions):
    """Create the container; returns (Container, init pid)."""
    from busybox_engine.core_pyx import ns
    from busybox_engine.runtime import spec as specmod
    from busybox_engine.runtime import hooks
    from busybox_engine.runtime.cgroups import new_manager
    from busybox_engine.runtime.sync import pair
    from busybox_engine.util.procs import run_child
    state.validate_id(cid)
    spec = opts.spec if opts.spec is not None else specmod.load(opts.bundle)
    for msg in security_label_warnings(spec) + capability_warnings(spec["process"]):
        opts.warn(msg)
    rootfs = specmod.rootfs_path(spec, opts.bundle)
    if not os.path.isdir(rootfs):
        raise RuntimeFailure(f"rootfs ({rootfs}) does not exist")
    flags, unshare, join, pid_path = _namespaces(spec)
    linux_spec = spec.get("linux") or {}
    # the state the hooks and a seccomp agent are told, as created
    oci_state = {"ociVersion": state.OCI_VERSION, "id": cid, "status": "creating",
                 "bundle": opts.bundle, "annotations": spec.get("annotations") or {}}
    opts.debug(f"container {cid}: bundle {opts.bundle}, rootfs {rootfs}, clone flags {flags:#x}")
    seccomp_filter = None
    if linux_spec.get("seccomp"):
        from busybox_engine.runtime import seccomp
        seccomp_filter = seccomp.build(linux_spec["seccomp"])
    os.makedirs(root, mode=0o711, exist_ok=True)
    cdir = os.path.join(root, cid)
    try:
        os.mkdir(cdir, 0o711)
    except FileExistsError:
        raise ContainerExists(f"container with id exists: {cid}") from None
    cleanup = [lambda: _rmtree(cdir)]
    child = 0
    try:
        fifo = os.path.join(cdir, state.EXEC_FIFO)
        os.mkfifo(fifo, 0o622)
        os.chmod(fifo, 0o622)  # past the umask: a non-root init must open it to write
        fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
        cleanup.append(lambda: os.close(fifo_fd))
        agent = None
        if seccomp_filter is not None and seccomp_filter.notify:
            agent = seccomp.Agent(linux_spec["seccomp"], oci_state)
            cleanup.append(agent.close)
        cg = new_manager(linux_spec.get("cgroupsPath") or "", cid)
        busy = cg.pids(recursive=True)
        if busy:   # runc 1.1 warns, before it applies anything; 1.2 refuses
            opts.warn(f"container's cgroup is not empty: {len(busy)} process(es) found")
            opts.warn("DEPRECATED: running container in a non-empty cgroup won't be supported in runc 1.2; "
                      "https://github.com/opencontainers/runc/issues/3132")
        cleanup.append(cg.destroy)
        cg.create(linux_spec.get("resources"))
        opts.debug(f"cgroups ({cg.mode}): " + " ".join(f"{k or 'unified'}={v}" for k, v in sorted(cg.paths.items())))
        if cg.frozen():   # the process would stop at its first step, and create wait forever
            raise RuntimeFailure("container's cgroup unexpectedly frozen")
        console_fd = -1
        if opts.console_fd >= 0:
            console_fd = os.dup(opts.console_fd)
            cleanup.append(lambda: os.close(console_fd))
        elif opts.console_socket:
            import socket
            csock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            try:
                csock.connect(opts.console_socket)
            except OSError as e:
                csock.close()
                raise RuntimeFailure(f"connect console socket `{opts.console_socket}`: {e.strerror}") from None
            console_fd = csock.detach()
            cleanup.append(lambda: os.close(console_fd))
        elif (spec["process"]).get("terminal") and not opts.foreground:
            raise RuntimeFailure("cannot allocate tty if runc will detach without setting console socket")
        chan, child_chan = pair()
        cleanup.append(chan.close)
        cleanup.append(child_chan.close)
        data = {"id": cid, "bundle": opts.bundle, "rootfs": rootfs, "created": state.rfc3339_now(),
                "config": spec, "cgroup_paths": cg.paths, "cgroup_mode": cg.mode}
        container = state.Container(root, cid, data)
        from busybox_engine.runtime.init import InitConfig, run as init_run
        cfg = InitConfig(spec=spec, bundle=opts.bundle, rootfs=rootfs, sync_fds=child_chan.fds,
                         fifo_fd=fifo_fd, console_fd=console_fd, join=join, unshare_flags=unshare,
                         new_userns=bool(flags & ns.CLONE_NEWUSER), cgroup_paths=cg.paths,
                         no_pivot=opts.no_pivot, preserve_fds=opts.preserve_fds,
                         seccomp=seccomp_filter, agent=agent, keyring=None if opts.no_new_keyring else cid,
                         state=oci_state)
        with ChildNamespaces() as children:
            if pid_path:
                children.join("pid", pid_path)
            if any(n["type"] == "time" and not n.get("path")
                   for n in linux_spec.get("namespaces") or []):
                children.new_time(linux_spec.get("timeOffsets"))
            child = ns.clone_fork(flags)
            if child == 0:
                run_child(_init_child, opts.bundle, init_run, cfg, chan)  # never returns
        cleanup.append(lambda: _kill_and_reap(child))
        opts.debug(f"container init started: pid {child}")
        child_chan.close()
        if agent is not None:
            agent.close()   # the init's copy is the one that talks to it
        if flags & ns.CLONE_NEWUSER:
            if not linux_spec.get("gidMappings") or not linux_spec.get("uidMappings"):
                raise RuntimeFailure("user namespace without uidMappings and gidMappings")
            _write_id_map(child, "uid_map", linux_spec["uidMappings"])
            _write_id_map(child, "gid_map", linux_spec["gidMappings"])
        try:
            cg.add(child)
            st = state.proc_stat(child)
            data["init_pid"] = child
            data["init_start"] = st[1] if st else 0
            chan.send("go", pid=child)
        except OSError:
            # the init may have failed already (it sets up its mounts while
            # we join the cgroup): its own error says more than ours
            _kill_and_reap(child)
            msg = chan.recv()
            if msg is not None and msg.get("type") == "error":
                raise RuntimeFailure(msg.get("message", "container init failed")) from None
            raise
        while True:
            msg = chan.recv()
            if msg is None:
                raise RuntimeFailure("container init exited before it was ready")
            kind = msg.get("type")
            if kind == "error":
                raise RuntimeFailure(msg.get("message", "container init failed"))
            if kind == "hooks":
                hook_state = dict(container.oci_state(), status="created", pid=child)
                hooks.run_hooks(spec, "prestart", hook_state)
                hooks.run_hooks(spec, "createRuntime", hook_state)
                chan.send("go")
            elif kind == "ready":
                opts.debug("container init ready: waiting for start on the exec fifo")
                break
        container.save()
        if opts.pid_file:
            write_pid_file(opts.pid_file, child)
    except BaseException:
        for undo in reversed(cleanup):
            try:
                undo()
            except Exception:  # noqa: BLE001 - undo what we can
                pass
        raise
    chan.close()
    os.close(fifo_fd)
    if console_fd >= 0:
        os.close(console_fd)
    return container, child


def _init_child(bundle: str, init_run, cfg, parent_chan) -> None:
    parent_chan.close()  # the parent's ends of the sync pipes are not the init's
    os.chdir(bundle)
    init_run(cfg)  # execs the program, or _exits


def write_pid_file(path: str, pid: int) -> None:
    from busybox_engine.util.atomicfile import atomic_write
    atomic_write(os.path.abspath(path), str(pid), durable=False)


def _rmtree(path: str) -> None:
    """Remove a container's state directory (files only, no subdirectories)."""
    try:
        for entry in os.scandir(path):
            os.unlink(entry.path)
        os.rmdir(path)
    except FileNotFoundError:
        pass


def _kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def start(container: state.Container) -> None:
    status = container.status()
    if status != "created":
        raise WrongState("cannot start a container that has stopped" if status == "stopped"
                         else "cannot start an already running container")
    fd = os.open(container.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        # the init opens the fifo for writing once we hold it for reading
        deadline = time.monotonic() + 10
        delay = 0.0001   # the init writes within a scheduling slice; back off from there
        while True:
            try:
                if os.read(fd, 1):
                    break
            except BlockingIOError:
                pass
            if not container.init_alive():
                # it may have been let go, run and exited between our read
                # and this look (a fast program): its byte is in the fifo
                try:
                    if os.read(fd, 1):
                        break
                except BlockingIOError:
                    pass
                raise RuntimeFailure("container init exited before start")
            if time.monotonic() > deadline:
                raise RuntimeFailure("timed out waiting for the container init")
            time.sleep(delay)   # not select: its module costs every start more than this
            delay = min(delay * 2, 0.05)
    finally:
        os.close(fd)
    try:
        os.unlink(container.fifo)
    except FileNotFoundError:
        pass
    if (container.spec.get("hooks") or {}).get("poststart"):
        from busybox_engine.runtime import hooks
        hooks.run_hooks(container.spec, "poststart", container.oci_state())


def kill(container: state.Container, sig: int, all_processes: bool = False) -> None:
    status = container.status()
    if status == "stopped":
        raise WrongState("container not running")
    if all_processes:
        manager_for(container).signal_all(sig)
        return
    try:
        pidfd = os.pidfd_open(container.pid)
    except ProcessLookupError:
        raise WrongState("container not running") from None
    try:
        import signal
        signal.pidfd_send_signal(pidfd, sig)
    finally:
        os.close(pidfd)


def _own_pid_namespace(spec: dict) -> bool:
    return any(n.get("type") == "pid" and not n.get("path")
               for n in (spec.get("linux") or {}).get("namespaces") or [])


def delete(container: state.Container, force: bool = False) -> OSError | None:
    """Kill (with force) and remove the container. A cgroup that will not
    go (a process of someone else's in it) is returned, not raised, as runc
    logs it and still removes the container."""
    status = container.status()
    if status in ("running", "paused") and not force:
        raise WrongState(f"cannot delete container {container.id} that is not stopped: {status}")
    cg = manager_for(container)
    if status != "stopped":
        if status == "paused":
            cg.thaw()
        try:
            os.kill(container.pid, SIGKILL)
        except ProcessLookupError:
            pass
        # the pid namespace dies with its init; without one, kill the rest
        cg.signal_all(SIGKILL)
        # done once the cgroup is empty: an init that is pid 1 of its namespace
        # leaves it before it waits, in the kernel, for its reparented
        # children to be reaped by someone else
        deadline = time.monotonic() + 10
        while container.init_alive() and cg.pids() and time.monotonic() < deadline:
            time.sleep(0.005)
    elif not _own_pid_namespace(container.spec) and cg.pids(recursive=True):
        # its init was no pid 1: what it started outlives it, and goes with
        # the container (runc 1.2 does this; 1.1 left them, and the cgroup)
        cg.signal_all(SIGKILL)
        deadline = time.monotonic() + 10
        while cg.pids(recursive=True) and time.monotonic() < deadline:
            time.sleep(0.005)
    failed = None
    try:
        cg.destroy()
    except OSError as e:
        failed = e
    _rmtree(container.dir)
    if not (container.spec.get("hooks") or {}).get("poststop"):
        return failed
    from busybox_engine.runtime import hooks
    hooks_state = dict(container.oci_state(), status="stopped")
    try:
        hooks.run_hooks(container.spec, "poststop", hooks_state)
    except RuntimeFailure:
        pass  # poststop failures are logged, the delete stands (runtime-spec)
    return failed
