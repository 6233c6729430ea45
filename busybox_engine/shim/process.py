"""A process of the container (the init or an exec'd one): its stdio, its
output to the log and to attached clients, its exit."""
import asyncio
import json
import os

from busybox_engine.daemon.background import spawn
from busybox_engine.shim.iolog import JSONLog
from busybox_engine.util.atomicfile import atomic_write
from busybox_engine.util.procs import exit_code
from busybox_engine.util.timefmt import rfc3339nano


class Process:
    """The init or an exec'd process: its pid, stdio and exit."""

    def __init__(self, shim, exec_id: str, log: JSONLog | None = None):
        self.shim = shim
        self.exec_id = exec_id
        self.log = log
        self.pid = 0
        self.status = "created"
        self.exit_status = None
        self.exited_at = None
        self.exited = shim.loop.create_future()
        self.stdin_fd = -1
        self.master_fd = -1
        self.outputs = 0

    def info(self) -> dict:
        return {"exec_id": self.exec_id, "pid": self.pid, "status": self.status,
                "exit_status": self.exit_status, "exited_at": self.exited_at,
                "stdin": self.stdin_fd >= 0, "terminal": self.master_fd >= 0}

    async def spawn(self, args: list, stdin: bool, terminal: bool, pid_file: str) -> None:
        """Run `runc ARGS` with this process's stdio; then watch its pid."""
        shim = self.shim
        to_close = []
        stdio = None
        try:
            if terminal:
                console = os.path.join(shim.config.state_dir, f"console-{self.exec_id or 'init'}.sock")
                receiving = await shim.console_listener(console)
                args = args[:1] + ["--console-socket", console] + args[1:]
            else:
                out_r, out_w = os.pipe2(os.O_CLOEXEC)
                err_r, err_w = os.pipe2(os.O_CLOEXEC)
                if stdin:
                    in_r, self.stdin_fd = os.pipe2(os.O_CLOEXEC)
                else:
                    in_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
                to_close = [out_w, err_w, in_r]
                stdio = (in_r, out_w, err_w)
                self.read_output(out_r, "stdout")
                self.read_output(err_r, "stderr")
            try:
                await shim.runc(*args, stdio=stdio)
            except BaseException:
                if terminal:
                    receiving.cancel()
                raise
            if terminal:
                self.master_fd = self.stdin_fd = await asyncio.wait_for(receiving, 5)
                self.read_output(self.master_fd, "stdout", owned=False)
        finally:
            for fd in to_close:
                os.close(fd)
        with open(pid_file) as f:
            self.pid = int(f.read())
        # the process is ours once runc has exited: watch for its exit
        shim.reaper.wait(self.pid).add_done_callback(self._exited)

    def read_output(self, fd: int, stream: str, owned: bool = True) -> None:
        loop = self.shim.loop
        os.set_blocking(fd, False)
        self.outputs += 1

        def readable():
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError:  # EIO: the pty's other side is gone
                data = b""
            if not data:
                loop.remove_reader(fd)
                if self.log:
                    self.log.flush(stream)
                if owned:
                    os.close(fd)
                self.outputs -= 1
                return
            if self.log:
                self.log.write(stream, data)
            self.shim.notify("io", {"exec_id": self.exec_id, "stream": stream, "data": data})
        loop.add_reader(fd, readable)

    def _exited(self, fut: asyncio.Future) -> None:
        spawn(self._report_exit(exit_code(fut.result()), rfc3339nano()))

    async def _report_exit(self, status: int, at: str) -> None:
        # output first, then the exit: whoever sees the exit has seen all
        # the output (unless something else holds the pipes open)
        for _ in range(200):
            if self.outputs == 0:
                break
            await asyncio.sleep(0.01)
        self.exit_status = status
        self.exited_at = at
        self.status = "stopped"
        record = {"exec_id": self.exec_id, "pid": self.pid, "exit_status": self.exit_status,
                  "exited_at": self.exited_at}
        if not self.exec_id:
            # the init's exit is what a restarted containerd must learn
            atomic_write(os.path.join(self.shim.config.state_dir, "exit.json"), json.dumps(record))
        if not self.exited.done():
            self.exited.set_result(record)
        self.shim.notify("task.exit", record)

    async def drained(self) -> None:
        """Wait (a little) for the output still in the pipes to be logged."""
        for _ in range(100):
            if self.outputs == 0:
                break
            await asyncio.sleep(0.01)
        if self.master_fd >= 0:
            self.shim.loop.remove_reader(self.master_fd)
            os.close(self.master_fd)
            self.master_fd = self.stdin_fd = -1
        elif self.stdin_fd >= 0:
            os.close(self.stdin_fd)
            self.stdin_fd = -1
        if self.log:
            self.log.close()
            self.log = None
