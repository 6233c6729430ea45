"""A pre-warmed process that forks shims.

Every shim imports the same modules (asyncio, uvloop, msgpack, the RPC
server and the shim itself); forked from one process that has them loaded
(and frozen out of the GC's reach), the shims share those pages instead of
each holding its own copy. The zygote is containerd's child and dies with
it; the shims it forks are not its children (a double fork), so they live
on whatever happens to containerd or to the zygote.

Protocol, on a SOCK_SEQPACKET socketpair: containerd sends
{"argv": [...], "log": PATH}; the shim's pid comes back as {"pid": N}.
"""
import json
import os
import socket
import sys

from busybox_engine.util.procs import fork_child

NAME = "shim-zygote"


def preload() -> None:
    """What a shim needs, loaded once here: the modules, not the state."""
    import asyncio  # noqa: F401
    import msgpack  # noqa: F401
    from busybox_engine.daemon import lifecycle  # noqa: F401
    from busybox_engine.rpc import loop, methods, server  # noqa: F401
    from busybox_engine.shim import config, runtime, service  # noqa: F401
    for name in runtime.RUNTIME_MODULES:  # the runtime the shim forks
        __import__(name)
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if "__compiled__" in globals():
            raise


def serve(fd: int) -> int:
    """Run as `containerd-shim --zygote FD`: fork shims on request until
    containerd closes its end."""
    import gc
    from busybox_engine.core_pyx import linux
    linux.set_name(NAME)
    linux.set_pdeathsig(9)  # SIGKILL when containerd goes: a new one comes with it
    if os.getppid() == 1:
        return 0  # containerd went before we were ready
    preload()
    gc.freeze()  # keep the collector from writing to (so unsharing) these pages
    return _loop(socket.socket(fileno=fd))


def _serve_forked(fd: int, parent: int) -> int:
    """The zygote forked from containerd itself: it shares containerd's
    pages as well as the shims'. Nothing of containerd's may stay: its
    descriptors closed, its signal handlers back to the defaults."""
    import gc
    import signal
    from busybox_engine.core_pyx import linux
    linux.set_name(NAME)
    linux.set_pdeathsig(9)
    if os.getppid() != parent:
        return 0
    _set_cmdline(["containerd-shim", "--zygote"])
    signal.set_wakeup_fd(-1)
    import asyncio
    asyncio.events._set_running_loop(None)   # forked inside containerd's loop: a shim makes its own
    asyncio.set_event_loop(None)
    for sig in signal.valid_signals():
        # containerd's handlers go; what Python itself sets (SIGPIPE ignored,
        # SIGINT as KeyboardInterrupt) stays, as an exec'ed zygote has it
        handler = signal.getsignal(sig)
        if callable(handler) and handler is not signal.default_int_handler:
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1):
        os.dup2(null, target)
    os.closerange(3, fd)
    os.closerange(fd + 1, 1 << 20)
    gc.freeze()
    return _loop(socket.socket(fileno=fd))


def _set_cmdline(argv: list) -> None:
    from busybox_engine.core_pyx import linux
    try:
        linux.set_cmdline(argv)
    except OSError:
        pass   # ps then shows the parent's command line: cosmetic


def _loop(sock: socket.socket) -> int:
    while True:
        try:
            msg = sock.recv(1 << 16)
        except InterruptedError:
            continue
        if not msg:
            return 0
        try:
            req = json.loads(msg)
        except ValueError:
            continue
        # an intermediate child forks the shim, reports it and exits, so the
        # shim is reparented away from us
        os.waitpid(fork_child(_intermediate, sock, req), 0)


def _intermediate(sock: socket.socket, req: dict) -> int:
    shim_pid = fork_child(_become_shim, sock, req)
    sock.send(json.dumps({"pid": shim_pid}).encode())
    return 0


def _become_shim(sock: socket.socket, req: dict) -> int:
    from busybox_engine.core_pyx import linux
    from busybox_engine.shim.config import main
    sock.close()
    os.setsid()
    linux.set_pdeathsig(0)
    linux.set_name("containerd-shim")
    null = os.open(os.devnull, os.O_RDWR)
    log = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    sys.argv = ["containerd-shim"] + req["argv"]
    _set_cmdline(sys.argv)
    rc = main(req["argv"])
    sys.stderr.flush()
    return rc


class Zygote:
    """containerd's handle on its zygote (started on first use)."""

    def __init__(self):
        self.pid = 0
        self.sock = None

    def _start(self) -> None:
        from busybox_engine.selfexec import personality_command
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        os.set_inheritable(theirs.fileno(), True)
        path, prefix, env = personality_command("containerd-shim")
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            self.pid = os.posix_spawn(path, prefix + ["--zygote", str(theirs.fileno())],
                                      env if env is not None else os.environ,
                                      file_actions=[(os.POSIX_SPAWN_DUP2, null, 0),
                                                    (os.POSIX_SPAWN_DUP2, null, 1)])
        finally:
            os.close(null)
            theirs.close()
        from busybox_engine.runtime.cgroups.hierarchy import move_to_root
        move_to_root(self.pid)
        self.sock = mine
        self.sock.settimeout(10)

    def fork_now(self) -> None:
        """Fork the zygote from this process (containerd, before it has a
        thread): it and every shim share containerd's pages, which an exec'ed
        zygote would load again. The modules a shim needs are loaded here
        first, and everything frozen out of the collector's reach, so
        neither side's GC unshares them. A zygote that dies later is started
        again by exec (forking a busy, threaded daemon is not safe)."""
        import gc
        import threading
        if self.sock is not None or threading.active_count() > 1:
            return
        preload()
        gc.freeze()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        me = os.getpid()
        pid = os.fork()
        if pid == 0:
            from busybox_engine.util.procs import run_child
            mine.close()
            run_child(_serve_forked, theirs.detach(), me)
        theirs.close()
        from busybox_engine.runtime.cgroups.hierarchy import move_to_root
        move_to_root(pid)
        self.pid = pid
        self.sock = mine
        self.sock.settimeout(10)

    def spawn(self, argv: list, log: str) -> int:
        """A new shim with these arguments; its pid (not our child)."""
        for attempt in (0, 1):
            if self.sock is None:
                self._start()
            try:
                self.sock.send(json.dumps({"argv": argv, "log": log}).encode())
                reply = json.loads(self.sock.recv(1 << 16))
                return reply["pid"]
            except (OSError, ValueError, KeyError):
                self.close()  # a dead zygote: start a fresh one, once
                if attempt:
                    raise
        raise OSError("zygote unavailable")

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.pid:
            try:
                os.kill(self.pid, 9)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = 0
