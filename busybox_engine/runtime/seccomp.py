"""runtime-spec linux.seccomp -> a libseccomp filter, built before clone so a
bad profile fails create early; the init only loads it."""
import errno
import os

from busybox_engine.runtime.errors import InvalidConfig

OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
       "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}


def action(name: str, errno_ret: int | None):
    from busybox_engine.core_pyx import seccomp as s
    if name in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"):
        return s.ACT_KILL_THREAD
    if name == "SCMP_ACT_KILL_PROCESS":
        return s.ACT_KILL_PROCESS
    if name == "SCMP_ACT_TRAP":
        return s.ACT_TRAP
    if name == "SCMP_ACT_ERRNO":
        return s.act_errno(errno.EPERM if errno_ret is None else errno_ret)
    if name == "SCMP_ACT_TRACE":
        return s.act_trace(errno.EPERM if errno_ret is None else errno_ret)
    if name == "SCMP_ACT_ALLOW":
        return s.ACT_ALLOW
    if name == "SCMP_ACT_LOG":
        return s.ACT_LOG
    if name == "SCMP_ACT_NOTIFY":
        return s.ACT_NOTIFY
    raise InvalidConfig(f"seccomp: unknown action {name!r}")


# Compiled filters, by profile: libseccomp takes ~70 ms for Docker's
# default profile on three architectures, and every container and exec
# loads the same one. Root's only (a planted program would be a hole).
CACHE_DIR = "/run/busybox-engine/seccomp"   # BUSYBOX_ENGINE_SECCOMP_CACHE: another ("" for none)
CACHE_FORMAT = b"2"   # bumped when build() compiles differently
CACHE_MAX = 256


class Program:
    """A compiled filter, loaded last thing before the process's execve.
    With SCMP_ACT_NOTIFY rules, load() gives the notify fd for the agent."""

    def __init__(self, bpf: bytes, notify: bool = False):
        # imported now: load() runs in the container, where our files are not
        from busybox_engine.core_pyx.seccomp import FILTER_FLAG_NEW_LISTENER, load_bpf
        self.bpf = bpf
        self.notify = notify
        self._load = load_bpf
        self._flags = FILTER_FLAG_NEW_LISTENER if notify else 0

    def load(self) -> int:
        fd = self._load(self.bpf, self._flags)
        return fd if self.notify else -1


def uses_notify(profile: dict) -> bool:
    return any(rule.get("action") == "SCMP_ACT_NOTIFY" for rule in profile.get("syscalls") or [])


def check_notify(profile: dict) -> None:
    """runc's rules for SCMP_ACT_NOTIFY: the init hands the notify fd on
    with a write, so neither the default action nor write may notify, and
    an agent must be named."""
    if profile.get("defaultAction") == "SCMP_ACT_NOTIFY":
        raise InvalidConfig("SCMP_ACT_NOTIFY cannot be used as default action")
    for rule in profile.get("syscalls") or []:
        if rule.get("action") == "SCMP_ACT_NOTIFY" and "write" in (rule.get("names") or []):
            raise InvalidConfig("SCMP_ACT_NOTIFY cannot be used for the write syscall")
    if uses_notify(profile) and not profile.get("listenerPath"):
        raise InvalidConfig("seccomp: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath (the agent's socket)")


def _go_error(e: OSError) -> str:
    text = e.strerror or str(e)
    return text[:1].lower() + text[1:]   # Go's syscall errors are lower case


class Agent:
    """The seccomp agent at listenerPath, connected by the parent before
    the process exists; the process sends it the notify fd with the
    container's state (runc's ContainerProcessState) once its filter is in."""

    def __init__(self, profile: dict, state: dict):
        import _socket
        path = profile["listenerPath"]
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            # an abstract socket is named with a leading "@"
            sock.connect("\0" + path[1:] if path.startswith("@") else path)
        except OSError as e:
            sock.close()
            raise InvalidConfig(f"failed to connect with seccomp agent specified in the seccomp profile: "
                                f"dial unix {path}: connect: {_go_error(e)}") from None
        self.fd = sock.detach()
        self.metadata = profile.get("listenerMetadata") or ""
        self.state = state
        self._socket = _socket.socket   # for send(): after pivot_root nothing can be imported

    def send(self, notify_fd: int, pid: int) -> None:
        """Hand the agent the notify fd of process pid (the container's
        init, or an exec'd process) and close both."""
        from busybox_engine.util import fastjson
        st = self.state
        # as Go's encoding/json writes runc's structs: field order, omitempty
        state = {"ociVersion": st.get("ociVersion", ""), "id": st.get("id", ""),
                 "status": st.get("status", ""), "pid": st.get("pid") or pid, "bundle": st.get("bundle", "")}
        if st.get("annotations"):
            state["annotations"] = st["annotations"]
        msg = {"ociVersion": state["ociVersion"], "fds": ["seccompFd"], "pid": pid}
        if self.metadata:
            msg["metadata"] = self.metadata
        msg["state"] = state
        data = fastjson.dumps(msg, separators=(",", ":")).encode()
        sock = self._socket(fileno=self.fd)
        try:
            sock.sendmsg([data], [(1, 1, notify_fd.to_bytes(4, "little"))])  # SOL_SOCKET, SCM_RIGHTS
        finally:
            sock.close()
            self.fd = -1
            os.close(notify_fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def build(profile: dict):
    """A loadable filter for the profile (not loaded): from the cache, or
    compiled (and kept for next time)."""
    from busybox_engine.util import fastjson as json
    from busybox_engine import __version__
    from busybox_engine._build_info import BUILD_ID
    from _blake2 import blake2b
    try:
        text = json.dumps(profile, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise InvalidConfig(f"seccomp: invalid profile: {e}") from None
    key = blake2b(b"|".join((CACHE_FORMAT, __version__.encode(), BUILD_ID.encode(), text.encode())),
                  digest_size=20).hexdigest()
    check_notify(profile)
    bpf = _cached(key)
    if bpf is None:
        bpf = enosys_stub(profile) + compile_profile(profile).export_bpf()
        try:
            _keep(key, bpf)
        except OSError:
            pass   # no cache today: the filter works all the same
    return Program(bpf, uses_notify(profile))


def enosys_stub(profile: dict) -> bytes:
    """runc's -ENOSYS stub for the profile: syscalls newer than any it
    names answer ENOSYS, not the default action, so programs fall back to
    older calls (clone3 -> clone) instead of failing on an EPERM. Not for
    a permissive default (allow, log, trace) or one that is ENOSYS already;
    per architecture the profile lists (none listed: no stub, as runc)."""
    from busybox_engine.core_pyx import seccomp as s
    from busybox_engine.runtime import seccomp_enosys as e
    default = profile.get("defaultAction")
    if default in ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"):
        return b""
    if default == "SCMP_ACT_ERRNO" and profile.get("defaultErrnoRet") == errno.ENOSYS:
        return b""
    names = {n for rule in profile.get("syscalls") or [] for n in rule.get("names") or []}
    last = {}
    for arch in profile.get("architectures") or []:
        scmp = arch[len("SCMP_ARCH_"):].lower()
        scmp = "x86_64" if scmp == "native" else scmp
        if scmp not in e.SLOTS:
            continue   # cannot run on this host: libseccomp's bad-arch action takes it
        top = max([s.syscall_number_arch(n, scmp) for n in names] or [-1])
        if top > 0:
            audit, slot = e.SLOTS[scmp]
            last.setdefault(audit, [None, None])[slot] = top
    return e.stub(last)


def _cache_dir() -> str:
    return os.environ.get("BUSYBOX_ENGINE_SECCOMP_CACHE", CACHE_DIR)


def _cache_dir_ok() -> bool:
    if not _cache_dir():
        return False
    try:
        st = os.lstat(_cache_dir())
    except FileNotFoundError:
        return False
    import stat
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o077


def _cached(key: str):
    if os.geteuid() != 0 or not _cache_dir_ok():
        return None
    try:
        with open(os.path.join(_cache_dir(), key), "rb") as f:
            bpf = f.read()
    except OSError:
        return None
    return bpf if bpf and len(bpf) % 8 == 0 else None


def _keep(key: str, bpf: bytes) -> None:
    if os.geteuid() != 0:
        return
    d = _cache_dir()
    if not d:
        return
    if not _cache_dir_ok():
        os.makedirs(os.path.dirname(d), mode=0o711, exist_ok=True)
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass
        if not _cache_dir_ok():
            return
    if len(os.listdir(d)) >= CACHE_MAX:
        return
    from busybox_engine.util.atomicfile import atomic_write
    atomic_write(os.path.join(d, key), bpf, mode=0o600, durable=False)


def compile_profile(profile: dict):
    """A libseccomp Filter for the profile (not loaded)."""
    from busybox_engine.core_pyx import seccomp as s
    try:
        default = action(profile.get("defaultAction", ""), profile.get("defaultErrnoRet"))
        f = s.Filter(default)
        for arch in profile.get("architectures") or []:
            if not arch.startswith("SCMP_ARCH_"):
                raise InvalidConfig(f"seccomp: unknown architecture {arch!r}")
            f.add_arch(arch[len("SCMP_ARCH_"):].lower())
        for i, rule in enumerate(profile.get("syscalls") or []):
            act = action(rule.get("action", ""), rule.get("errnoRet"))
            if act == default:
                continue  # libseccomp refuses rules that repeat the default
            args = []
            for a in rule.get("args") or []:
                op = OPS.get(a.get("op"))
                if op is None:
                    raise InvalidConfig(f"seccomp: syscalls[{i}]: unknown operator {a.get('op')!r}")
                args.append((a.get("index", 0), op, a.get("value", 0), a.get("valueTwo", 0)))
            # one condition per argument in a rule: repeated indexes become
            # one rule each, as runc does
            indexes = [a[0] for a in args]
            groups = [args] if len(set(indexes)) == len(indexes) else [[a] for a in args]
            for name in rule.get("names") or []:
                for group in groups:
                    f.add_rule(act, name, group)
    except OSError as e:
        raise InvalidConfig(f"seccomp: {e.strerror or e}") from None
    except (TypeError, ValueError, OverflowError) as e:
        raise InvalidConfig(f"seccomp: invalid profile: {e}") from None
    return f
