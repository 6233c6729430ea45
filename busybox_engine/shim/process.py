"""A process of the container (the init or an exec'd one): its stdio, its
output to the log and to attached streams, its exit.

Output is read while every attached stream keeps up: a stream whose
unsent bytes pass its high-water mark pauses the reading until it drains,
so a slow reader slows the container as a pipe would, and neither a byte
is lost nor the shim's memory grows. A stream that goes away stops
counting at once. With nothing attached, output is read as it comes (to
the log, if there is one): the container never waits on a daemon.
"""
import asyncio
import json
import os
import sys

from busybox_engine.daemon.background import spawn
from busybox_engine.shim.iolog import JSONLog
from busybox_engine.shim.stdin import StdinWriter
from busybox_engine.util.atomicfile import atomic_write
from busybox_engine.util.procs import exit_code
from busybox_engine.util.timefmt import rfc3339nano

READ_SIZE = 65536
# after an exit, how long output may keep coming (from a process that
# outlives it holding the pipes) before the streams are closed: seconds in
# which no stream held the reading back
DRAIN_SECONDS = 2.0
STDOUT, STDERR = 1, 2


class Process:
    """The init or an exec'd process: its pid, stdio and exit."""

    def __init__(self, shim, exec_id: str, log: JSONLog | None = None, terminal: bool = False):
        self.shim = shim
        self.loop = shim.loop
        self.exec_id = exec_id
        self.log = log
        self.terminal = terminal
        self.pid = 0
        self.status = "created"
        self.exit_status = None
        self.exited_at = None
        self.exited = self.loop.create_future()
        self.stdin = None        # StdinWriter, if the process has a stdin
        self.master_fd = -1      # the pty master (terminal)
        self.readers = {}        # fd -> (stream kind, owned) of open outputs
        self.outputs_done = self.loop.create_future()
        self.streams = set()     # attached streams (shim.stream.Stream)
        self.holding = set()     # streams whose buffers are full: reading waits
        self.stdio = None        # (stdin, stdout, stderr) for runc, before it runs
        self._to_close = []
        self.spec = None         # an exec'd process's spec, until it starts
        self.want_stdin = False

    def info(self) -> dict:
        return {"exec_id": self.exec_id, "pid": self.pid, "status": self.status,
                "exit_status": self.exit_status, "exited_at": self.exited_at,
                "stdin": self.stdin is not None, "terminal": self.terminal}

    # --- stdio ---------------------------------------------------------------------

    def make_pipes(self, stdin: bool) -> None:
        """Pipes for a process without a terminal (its ends kept for runc)."""
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        if stdin:
            in_r, in_w = os.pipe2(os.O_CLOEXEC)
            self.stdin = StdinWriter(self.loop, in_w)
        else:
            in_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        self._to_close = [in_r, out_w, err_w]
        self.stdio = (in_r, out_w, err_w)
        self._watch(out_r, STDOUT, owned=True)
        self._watch(err_r, STDERR, owned=True)

    def runtime_started(self) -> None:
        """runc has the pipes' other ends now (or has failed): ours go."""
        for fd in self._to_close:
            os.close(fd)
        self._to_close = []
        self.stdio = None

    def take_terminal(self, master: int, stdin: bool) -> None:
        """The pty master runc's console socket handed over."""
        os.set_blocking(master, False)
        self.master_fd = master
        if stdin:
            self.stdin = StdinWriter(self.loop, master, owned=False)
        self._watch(master, STDOUT, owned=False)

    def _watch(self, fd: int, kind: int, owned: bool) -> None:
        os.set_blocking(fd, False)
        self.readers[fd] = (kind, owned)
        if not self.holding:
            self.loop.add_reader(fd, self._readable, fd)

    def _readable(self, fd: int) -> None:
        kind, owned = self.readers[fd]
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:  # EIO: the pty's other side is gone
            data = b""
        if not data:
            self._output_ended(fd)
            return
        if self.log:
            self.log.write("stdout" if kind == STDOUT else "stderr", data)
        for stream in list(self.streams):
            stream.output(kind, data)

    def _output_ended(self, fd: int) -> None:
        kind, owned = self.readers.pop(fd)
        self.loop.remove_reader(fd)
        if self.log:
            self.log.flush("stdout" if kind == STDOUT else "stderr")
        if owned:
            os.close(fd)
        if not self.readers and not self.outputs_done.done() and self.pid:
            self.outputs_done.set_result(None)
            self._close_streams()

    # --- streams -------------------------------------------------------------------

    def attach(self, stream) -> None:
        if self.outputs_done.done():
            stream.close()  # nothing more will come
            return
        self.streams.add(stream)

    def detach(self, stream) -> None:
        self.streams.discard(stream)
        self.release(stream)

    def hold(self, stream) -> None:
        """A stream is full: stop reading output until it drains."""
        if not self.holding:
            for fd in self.readers:
                self.loop.remove_reader(fd)
        self.holding.add(stream)

    def release(self, stream) -> None:
        if stream not in self.holding:
            return
        self.holding.discard(stream)
        if not self.holding:
            for fd in self.readers:
                self.loop.add_reader(fd, self._readable, fd)

    def _close_streams(self) -> None:
        for stream in list(self.streams):
            stream.close()  # after what is buffered has gone out
        self.streams.clear()
        self.holding.clear()

    # --- exit ----------------------------------------------------------------------

    def watch_exit(self) -> None:
        """The process is ours once runc has exited: watch for its exit."""
        if not self.readers and not self.outputs_done.done():
            self.outputs_done.set_result(None)  # its output ended before we knew its pid
            self._close_streams()
        self.shim.reaper.wait(self.pid).add_done_callback(self._exited)

    def _exited(self, fut: asyncio.Future) -> None:
        spawn(self._report_exit(exit_code(fut.result()), rfc3339nano()))

    async def _report_exit(self, status: int, at: str) -> None:
        # output first, then the exit: whoever sees the exit has seen all
        # the output (unless something else holds the pipes open)
        try:
            idle = 0.0
            while not self.outputs_done.done() and idle < DRAIN_SECONDS:
                await asyncio.sleep(0.01)
                idle = 0.0 if self.holding else idle + 0.01
        finally:
            self.exit_status = status
            self.exited_at = at
            self.status = "stopped"
            record = {"exec_id": self.exec_id, "pid": self.pid, "exit_status": status, "exited_at": at}
            if not self.exec_id:
                # the init's exit is what a restarted containerd must learn;
                # if it cannot be written, waiters still hear of it
                try:
                    atomic_write(os.path.join(self.shim.config.state_dir, "exit.json"), json.dumps(record))
                except OSError as e:
                    sys.stderr.write(f"containerd-shim: record the exit: {e.strerror or e}\n")
            if not self.exited.done():
                self.exited.set_result(record)
            if not self.outputs_done.done():
                self._close_streams()  # what comes later goes to the log only
            self.shim.notify("task.exit", record)

    async def drained(self) -> None:
        """Wait (a little) for the output still in the pipes to be logged,
        then let go of everything: stdio, streams, log."""
        for _ in range(100):
            if not self.readers:
                break
            await asyncio.sleep(0.01)
        for fd in list(self.readers):
            self._output_ended(fd)
        if self.master_fd >= 0:
            os.close(self.master_fd)
            self.master_fd = -1
        if self.stdin is not None:
            self.stdin.close(now=True)
            self.stdin = None
        self.runtime_started()
        self._close_streams()
        if self.log:
            self.log.close()
            self.log = None
