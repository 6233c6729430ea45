"""Claiming a daemon's socket, its pidfile, and running until SIGTERM.

A daemon holds an flock on SOCKET.lock for its whole life. A second daemon
on the same socket finds the lock held and refuses with a clear message; a
socket left by a daemon that died (kill -9) is stale once its lock is free,
and is replaced.
"""
import asyncio
import fcntl
import os
import signal


class AlreadyRunning(Exception):
    pass


class SocketClaim:
    """The right to serve at `path`, held from claim() to release()."""

    def __init__(self, path: str, who: str):
        self.path = path
        self.who = who
        self.lock_path = path + ".lock"
        self.lock_fd = -1

    def claim(self) -> "SocketClaim":
        parent = os.path.dirname(self.path) or "."
        os.makedirs(parent, mode=0o711, exist_ok=True)
        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise AlreadyRunning(
                    f"another {self.who} is already listening on {self.path}") from None
            # A daemon shutting down unlinks the lock file before closing it:
            # a lock on that unlinked file is worth nothing, so try again.
            try:
                if os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        self.lock_fd = fd
        # The lock is ours, so whatever socket is there was left by a daemon
        # that died without cleaning up.
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        return self

    def release(self) -> None:
        if self.lock_fd < 0:
            return
        # only if they are still ours: once we are done, a successor may
        # already have claimed the same path (a task created again at once)
        try:
            ours = os.stat(self.lock_path).st_ino == os.fstat(self.lock_fd).st_ino
        except FileNotFoundError:
            ours = False
        if ours:
            for p in (self.path, self.lock_path):
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass
        os.close(self.lock_fd)
        self.lock_fd = -1


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PidFile:
    """dockerd's --pidfile: refuse to start while the pid in it is alive."""

    def __init__(self, path: str):
        self.path = path
        self.written = False

    def write(self) -> None:
        try:
            with open(self.path) as f:
                old = int(f.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            old = 0
        if old and old != os.getpid() and pid_alive(old):
            raise AlreadyRunning(f"pid file found, ensure docker is not running "
                                 f"or delete {self.path}")
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        from busybox_engine.util.atomicfile import atomic_write
        atomic_write(self.path, f"{os.getpid()}", durable=False)
        self.written = True

    def remove(self) -> None:
        if self.written:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.written = False


async def wait_for_signal(*signums: int) -> int:
    """Return the first of signums delivered to the process."""
    loop = asyncio.get_running_loop()
    got = loop.create_future()
    for signum in signums:
        loop.add_signal_handler(signum, lambda s=signum: got.done() or got.set_result(s))
    try:
        return await got
    finally:
        for signum in signums:
            loop.remove_signal_handler(signum)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def run_daemon(serve_coro, prefix: str) -> int:
    """Run a daemon's serve() on our event loop; start-up failures are one
    line on stderr, prefixed (`containerd: ...`), and exit status 1."""
    from busybox_engine.rpc.loop import run as run_loop
    import sys
    try:
        return run_loop(serve_coro)
    except AlreadyRunning as e:
        sys.stderr.write(f"{prefix}: {e}\n")
    except (OSError, ValueError) as e:
        sys.stderr.write(f"{prefix}: {getattr(e, 'strerror', None) or e}\n")
    return 1
