"""The container's init, between clone and exec of the user's program.

Runs in the cloned child, inside the new namespaces, single-threaded. It
does as little as it can inside the container's cgroup and reports every
failure to the parent as one line over the sync channel.
"""
import _signal  # the C module: signal.py would import enum on every runc start
import os
import stat

from busybox_engine.core_pyx import linux, mounts, ns
from busybox_engine.runtime import caps, hooks, rootfs
from busybox_engine.runtime.spec import RLIMITS


class InitConfig:
    """Everything the child needs, computed by the parent before clone."""

    def __init__(self, **kw):
        self.spec = kw["spec"]
        self.bundle = kw["bundle"]
        self.rootfs = kw["rootfs"]
        self.sync_fds = kw["sync_fds"]
        self.fifo_fd = kw.get("fifo_fd", -1)
        self.console_fd = kw.get("console_fd", -1)
        self.join = kw.get("join", [])          # [(type, path)], user first
        self.unshare_flags = kw.get("unshare_flags", 0)
        self.new_userns = kw.get("new_userns", False)
        self.cgroup_paths = kw.get("cgroup_paths", {})
        self.no_pivot = kw.get("no_pivot", False)
        self.preserve_fds = kw.get("preserve_fds", 0)
        self.state = kw.get("state", {})
        self.seccomp = kw.get("seccomp")        # a built, unloaded filter
        self.agent = kw.get("agent")            # seccomp.Agent for SCMP_ACT_NOTIFY, or None
        self.host_pid = 0                       # ours, as the parent sees it (its "go" says)
        self.keyring = kw.get("keyring")        # session keyring name, None for --no-new-keyring


def run(cfg: InitConfig) -> None:
    """Never returns: execs the program or exits 1 after reporting why."""
    from busybox_engine.runtime.sync import Channel
    chan = Channel(*cfg.sync_fds)
    linux.set_name("runc:[2:INIT]")  # as runc names its init, for ps
    # Until the program's execve this process is an image of the runtime
    # binary: non-dumpable, its /proc/PID/exe is out of the container's reach
    # (CVE-2019-5736); execve makes the program dumpable again.
    linux.set_dumpable(False)
    try:
        program, env = setup(cfg, chan)
        chan.send("ready")
        chan.close()
    except BaseException as e:  # noqa: BLE001 - everything goes to the parent
        try:
            chan.send("error", message=_describe(e))
        finally:
            os._exit(1)
    try:
        # still root here, so /proc/self/fd (the exec fifo) is ours to open
        wait_for_start(cfg)
        process = cfg.spec["process"]
        finalize(process, cfg.seccomp, cfg.agent, cfg.host_pid)
        # as runc runs them: as the process's user, with its capabilities
        # and under its seccomp filter
        hooks.run_hooks(cfg.spec, "startContainer", cfg.state)
        default_signals()
        os.execve(program, process["args"], env)
    except BaseException as e:  # noqa: BLE001
        os.write(2, f"runc init: {_describe(e)}\n".encode())
    os._exit(127)


def _describe(e: BaseException) -> str:
    if isinstance(e, OSError):
        msg = e.strerror or str(e)
        return f"{e.filename}: {msg}" if e.filename else msg
    return str(e) or type(e).__name__


def _env(process: dict) -> dict:
    """The process's environment; HOME, when it has none, from the
    container's /etc/passwd entry of its uid, else "/" (as runc sets it)."""
    env = {}
    for item in process.get("env") or []:
        k, sep, v = item.partition("=")
        if sep:
            env[k] = v
    if not env.get("HOME"):
        env["HOME"] = _home((process.get("user") or {}).get("uid", 0))
    return env


def _home(uid: int) -> str:
    try:
        with open("/etc/passwd", "rb") as f:
            data = f.read(1 << 20)   # the container's file: bounded
    except OSError:
        return "/"
    want = str(uid).encode()
    for line in data.split(b"\n"):
        fields = line.split(b":")
        if len(fields) >= 6 and fields[2] == want and fields[5]:
            return fields[5].decode(errors="surrogateescape")
    return "/"


def setup(cfg: InitConfig, chan) -> tuple:
    """Everything up to the wait for `runc start`; (program, environment),
    both found while the process is still root (its /etc/passwd readable)."""
    spec = cfg.spec
    process = spec["process"]
    linux_spec = spec.get("linux") or {}
    # The mounts need neither the cgroup nor the id maps: without a user or
    # cgroup namespace to make or join, they go on while the parent puts us
    # in the cgroup (v1's first cgroup.procs write waits out an RCU grace
    # period, ~10 ms). Otherwise nothing happens before the parent's "go".
    early = not (cfg.new_userns or cfg.unshare_flags & ns.CLONE_NEWCGROUP
                 or any(kind in ("user", "cgroup") for kind, _ in cfg.join))
    if not early:
        cfg.host_pid = chan.expect("go").get("pid", 0)  # uid/gid maps written, cgroup joined
    joined_user = False
    for kind, path in cfg.join:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            ns.setns(fd, ns.TYPES[kind][0], path)
        finally:
            os.close(fd)
        joined_user |= kind == "user"
    if cfg.unshare_flags:
        ns.unshare_ns(cfg.unshare_flags)
    if cfg.new_userns or joined_user:
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    os.setsid()
    if cfg.keyring:
        try:
            linux.join_session_keyring(cfg.keyring)
        except OSError as e:
            if e.errno not in (38, 1, 13):  # ENOSYS, EPERM, EACCES: keys unavailable, as runc
                raise
    has_mntns = any(n.get("type") == "mount" for n in linux_spec.get("namespaces") or [])
    if not has_mntns and (linux_spec.get("maskedPaths") or linux_spec.get("readonlyPaths")):
        raise OSError(22, "unable to restrict sys entries without a private MNT namespace")
    cgroupns = any(n.get("type") == "cgroup" for n in linux_spec.get("namespaces") or [])
    # without a mount namespace of its own, runc sets the rootfs up in the
    # caller's (its mounts stay there after the container) and chroots
    rootfs.prepare(cfg.rootfs, spec, cfg.bundle, cfg.cgroup_paths, cgroupns,
                   cfg.new_userns or joined_user, own_mntns=has_mntns)
    if early:
        cfg.host_pid = chan.expect("go").get("pid", 0)  # in the cgroup now
    spec_hooks = spec.get("hooks") or {}
    if spec_hooks.get("prestart") or spec_hooks.get("createRuntime"):
        chan.send("hooks")
        chan.expect("go")
    if spec_hooks.get("createContainer"):
        os.chdir(cfg.rootfs)   # runc runs them from the rootfs, in our mount namespace
        hooks.run_hooks(spec, "createContainer", cfg.state)
    # modules needed after pivot_root, imported while the host's files are in reach
    if process.get("terminal"):
        import array, fcntl, socket, struct, termios  # noqa: E401,F401
    if spec_hooks.get("startContainer"):
        import select  # noqa: F401 - hooks.run_hook
    rootfs.pivot(cfg.rootfs, cfg.no_pivot, has_mntns)
    if process.get("terminal"):
        setup_console(cfg)
    # sysctls go in before /proc/sys turns read-only
    for key, value in (linux_spec.get("sysctl") or {}).items():
        path = "/proc/sys/" + key.replace(".", "/")
        with open(path, "w") as f:
            f.write(value)
    rootfs.finish(spec)
    uts = any(n.get("type") == "uts" for n in linux_spec.get("namespaces") or [])
    if spec.get("hostname"):
        if not uts:
            raise OSError(22, "unable to set hostname without a new UTS namespace")
        linux.sethostname(spec["hostname"])
    if spec.get("domainname"):
        linux.setdomainname(spec["domainname"])
    set_rlimits(process.get("rlimits") or [])
    if process.get("oomScoreAdj") is not None:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(process["oomScoreAdj"]))
    cwd = process.get("cwd") or "/"
    try:
        os.chdir(cwd)
    except OSError as e:
        raise OSError(e.errno, f"chdir to cwd ({cwd!r}) set in config.json failed: {e.strerror}") from None
    env = _env(process)
    program = lookup(process["args"][0], env)
    check_ids_mapped(process)
    user = process.get("user") or {}
    os.umask(user.get("umask", 0o022) if user.get("umask") is not None else 0o022)
    close_fds_from(3 + cfg.preserve_fds, keep=(*cfg.sync_fds, cfg.fifo_fd))
    return program, env


# Everything init uses after pivot_root must be imported before it: the
# host's module files are out of reach from then on.
def lookup(name: str, env: dict) -> str:
    """Resolve the program as execvp would, before we report ready."""
    if "/" in name:
        candidates = [name]
    else:
        candidates = [os.path.join(d or ".", name)
                      for d in env.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                                       "/usr/bin:/sbin:/bin").split(":")]
    for c in candidates:
        try:
            st = os.stat(c)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and os.access(c, os.X_OK):
            return c
        if "/" in name:  # there, but not a program we may run (a directory too, as Go's LookPath says)
            raise OSError(13, f'exec: "{name}": permission denied')
    if "/" in name:
        raise OSError(2, f'exec: "{name}": no such file or directory')
    raise OSError(2, f'exec: "{name}": executable file not found in $PATH')


def default_signals() -> None:
    """Every signal back to its default disposition and unblocked, as a Go
    runc leaves them: Python ignores SIGPIPE and SIGXFSZ, and an ignored
    signal stays ignored across execve (`yes | head` never ended)."""
    for sig in range(1, _signal.NSIG):
        if sig in (9, 19):   # KILL and STOP cannot be set
            continue
        try:
            _signal.signal(sig, _signal.SIG_DFL)
        except (OSError, ValueError):
            pass   # the C library's own (32, 33)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])


def set_rlimits(rlimits: list) -> None:
    for r in rlimits:
        linux.setrlimit(RLIMITS[r["type"]], r["soft"], r["hard"], r["type"])


def finalize(process: dict, seccomp_filter, agent=None, pid: int = 0) -> None:
    """User, capabilities, no_new_privs and seccomp, last before execve.
    Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
    before the capabilities go; with it, as late as possible. A filter
    with notify rules hands its fd to the seccomp agent."""
    nnp = process.get("noNewPrivileges")
    if seccomp_filter is not None and not nnp:
        _load(seccomp_filter, agent, pid)
    fix_stdio_owner((process.get("user") or {}).get("uid", 0))
    set_user(process)
    if nnp:
        linux.set_no_new_privs()
        if seccomp_filter is not None:
            _load(seccomp_filter, agent, pid)


def _load(seccomp_filter, agent, pid: int) -> None:
    fd = seccomp_filter.load()
    if fd >= 0 and agent is not None:
        agent.send(fd, pid)


def fix_stdio_owner(uid: int) -> None:
    """stdio (the console among them) owned by the process's user, as runc
    makes it (fixStdioPermissions): the uid only, /dev/null left alone; a
    file system or namespace that refuses is no error."""
    import errno
    try:
        null = os.stat("/dev/null").st_rdev
    except OSError:
        null = None
    for fd in (0, 1, 2):
        try:
            st = os.fstat(fd)
        except OSError:
            continue
        if st.st_uid == uid or (null is not None and st.st_rdev == null):
            continue
        try:
            os.fchown(fd, uid, -1)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.EPERM, errno.EROFS):
                raise


def check_ids_mapped(process: dict) -> None:
    """Fail at create, not after start, for ids the user namespace lacks."""
    user = process.get("user") or {}

    def mapped(kind: str, ident: int) -> bool:
        with open(f"/proc/self/{kind}_map") as f:
            for line in f:
                inside, _, count = (int(x) for x in line.split())
                if inside <= ident < inside + count:
                    return True
        return False
    if not mapped("uid", user.get("uid", 0)):
        raise OSError(22, f"user uid {user.get('uid', 0)} is not mapped in the user namespace")
    for gid in [user.get("gid", 0)] + list(user.get("additionalGids") or []):
        if not mapped("gid", gid):
            raise OSError(22, f"group gid {gid} is not mapped in the user namespace")


def set_user(process: dict) -> None:
    """Capabilities, groups, gid and uid, in the order that keeps caps."""
    user = process.get("user") or {}
    capspec = process.get("capabilities") or {}
    known = caps.last_cap()
    bounding, _ = caps.mask(capspec.get("bounding") or [], known)
    for n in range(known + 1):
        if not bounding & (1 << n) and linux.capbset_read(n):
            linux.capbset_drop(n)
    uid, gid = user.get("uid", 0), user.get("gid", 0)
    linux.set_keepcaps(True)
    groups = user.get("additionalGids") or []
    try:
        os.setgroups(groups)
    except PermissionError:
        if groups:
            raise  # setgroups denied in this user namespace
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    linux.set_keepcaps(False)
    effective, _ = caps.mask(capspec.get("effective") or [], known)
    permitted, _ = caps.mask(capspec.get("permitted") or [], known)
    inheritable, _ = caps.mask(capspec.get("inheritable") or [], known)
    linux.capset(effective, permitted, inheritable)
    ambient, _ = caps.mask(capspec.get("ambient") or [], known)
    linux.ambient_clear()
    # the kernel only raises ambient caps that are permitted and inheritable;
    # like runc, the others are skipped rather than failing the container
    for n in range(known + 1):
        if ambient & permitted & inheritable & (1 << n):
            linux.ambient_raise(n)


def close_fds_from(first: int, keep: tuple) -> None:
    """Mark every fd >= first close-on-exec: only stdio and --preserve-fds
    reach the program (the CVE-2024-21626 class)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= first and fd not in keep:
            try:
                os.set_inheritable(fd, False)   # FD_CLOEXEC
            except OSError:
                pass


def wait_for_start(cfg: InitConfig) -> None:
    """Block until `runc start` opens the exec fifo, then let it go."""
    fd = os.open(f"/proc/self/fd/{cfg.fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, b"0")
    finally:
        os.close(fd)
        os.close(cfg.fifo_fd)


def exec_in(chan, spec: dict, process: dict, joins: list, console_fd: int,
            preserve_fds: int, seccomp_filter=None, agent=None) -> None:
    """The child of `runc exec`: join the namespaces, set up, exec. Never returns."""
    linux.set_name("runc:[2:EXEC]")
    linux.set_dumpable(False)  # see run(): /proc/PID/exe stays out of reach
    try:
        host_pid = chan.expect("go").get("pid", 0)  # in the container's cgroups now
        if process.get("terminal"):
            import array, fcntl, socket, struct, termios  # noqa: E401,F401 - before leaving the host's mounts
        for kind, path in joins:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                ns.setns(fd, ns.TYPES[kind][0], path)
            finally:
                os.close(fd)
            if kind == "user":
                os.setresgid(0, 0, 0)
                os.setresuid(0, 0, 0)
        os.setsid()
        if process.get("terminal"):
            cfg = InitConfig(spec=dict(spec, process=process), bundle="", rootfs="",
                             sync_fds=chan.fds, console_fd=console_fd)
            setup_console(cfg)
        set_rlimits(process.get("rlimits") or [])
        cwd = process.get("cwd") or "/"
        try:
            os.chdir(cwd)
        except OSError as e:
            raise OSError(e.errno, f"chdir to cwd ({cwd!r}) failed: {e.strerror}") from None
        env = _env(process)
        program = lookup(process["args"][0], env)
        close_fds_from(3 + preserve_fds, keep=chan.fds)
        chan.send("ready")
        finalize(process, seccomp_filter, agent, host_pid)
        default_signals()
        os.execve(program, process["args"], env)
    except BaseException as e:  # noqa: BLE001 - everything goes to the parent
        try:
            chan.send("error", message=_describe(e))
        finally:
            os._exit(1)


# <asm-generic/ioctls.h>; Python's termios lacks them
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431
TIOCGPTPEER = 0x5441


def setup_console(cfg: InitConfig) -> None:
    """A pty from the container's devpts: master to the console socket,
    slave as stdio, /dev/console and controlling terminal."""
    import array
    import fcntl
    import socket
    import struct
    import termios
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, array.array("i", [0]))
    slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
    n = array.array("I", [0])
    fcntl.ioctl(master, TIOCGPTN, n)
    pts = f"/dev/pts/{n[0]}"
    sock = socket.socket(fileno=cfg.console_fd)
    try:
        socket.send_fds(sock, [pts.encode()], [master])
    finally:
        sock.close()
        os.close(master)
    try:
        fd = os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        os.close(fd)
        mounts.mount(pts, "/dev/console", None, mounts.MS_BIND)
    except OSError:
        pass  # no writable /dev: the console is stdio only
    size = cfg.spec["process"].get("consoleSize") or {}
    if size.get("height") and size.get("width"):
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size["height"], size["width"], 0, 0))
    for target in (0, 1, 2):
        os.dup2(slave, target)
    os.close(slave)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
