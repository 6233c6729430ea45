"""The shim's single owner of waitpid.

As child subreaper the shim inherits the container's init (and anything
else orphaned outside a pid namespace). Exits are noticed through a pidfd
per watched process (uvloop keeps SIGCHLD to itself) and a slow sweep for
the rest; every reaped status resolves whoever waits for that pid, and
statuses nobody asked for yet are kept, so no exit is lost.
"""
import asyncio
import os

SWEEP_SECONDS = 1.0


class Reaper:
    def __init__(self):
        from busybox_engine.core_pyx import linux
        linux.set_child_subreaper(True)
        self.loop = asyncio.get_running_loop()
        self.waiters = {}      # pid -> [future]
        self.pidfds = {}       # pid -> pidfd being watched
        self.unclaimed = {}    # pid -> wait status
        self._sweep = self.loop.call_later(SWEEP_SECONDS, self._sweep_tick)

    def _sweep_tick(self) -> None:
        self.reap()
        self._sweep = self.loop.call_later(SWEEP_SECONDS, self._sweep_tick)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._unwatch(pid)
            futures = self.waiters.pop(pid, None)
            if futures:
                for fut in futures:
                    if not fut.done():
                        fut.set_result(status)
            elif len(self.unclaimed) < 4096:
                self.unclaimed[pid] = status

    def wait(self, pid: int) -> asyncio.Future:
        """A future of pid's wait status (resolved at once if already reaped)."""
        fut = self.loop.create_future()
        if pid in self.unclaimed:
            fut.set_result(self.unclaimed.pop(pid))
            return fut
        self.waiters.setdefault(pid, []).append(fut)
        if pid not in self.pidfds:
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                fd = -1  # gone and reaped by someone? the sweep settles it
            if fd >= 0:
                self.pidfds[pid] = fd
                self.loop.add_reader(fd, self.reap)
        self.reap()  # it may have exited already
        return fut

    def _unwatch(self, pid: int) -> None:
        fd = self.pidfds.pop(pid, None)
        if fd is not None:
            self.loop.remove_reader(fd)
            os.close(fd)

    def close(self) -> None:
        self._sweep.cancel()
        for pid in list(self.pidfds):
            self._unwatch(pid)
