"""containerd-shim: the parent of one container.

It runs the runtime (our runc unless told otherwise) to create the
container, becomes the init's parent when runc exits (child subreaper),
owns the container's stdio, writes its output to a json-file log and to
attached clients, and records the exit status on disk, so containerd and
dockerd can come and go while the container runs.
"""
import asyncio
import json
import os

import socket

from busybox_engine.rpc.errors import FailedPrecondition, Internal, InvalidArgument, NotFound
from busybox_engine.supervisor.iolog import JSONLog, rfc3339nano
from busybox_engine.supervisor.reaper import Reaper, exit_code


class Config:
    def __init__(self, namespace: str, cid: str, socket_path: str, state_dir: str,
                 runtime: str | None = None, runtime_root: str | None = None,
                 log_max_size: int = 0, log_max_files: int = 1):
        self.namespace = namespace
        self.id = cid
        self.socket = socket_path
        self.state_dir = state_dir
        self.runtime = runtime
        self.runtime_root = runtime_root or os.path.join(state_dir, "runc")
        self.log_max_size = log_max_size
        self.log_max_files = log_max_files


class Shim:
    def __init__(self, config: Config, reaper: Reaper):
        self.config = config
        self.reaper = reaper
        self.loop = asyncio.get_running_loop()
        self.pid = 0
        self.bundle = ""
        self.status = "unknown"  # created, running, paused, stopped
        self.exit_status = None
        self.exited_at = None
        self.exited = self.loop.create_future()
        self.log = None
        self.stdin_fd = -1
        self.master_fd = -1
        self.outputs = 0
        self.subscribers = set()
        self.done = asyncio.Event()   # set when the shim should exit
        os.makedirs(config.state_dir, mode=0o711, exist_ok=True)

    # --- running the runtime -------------------------------------------------

    def _runtime(self) -> tuple:
        if self.config.runtime:
            return self.config.runtime, [os.path.basename(self.config.runtime)], None
        from busybox_engine.selfexec import personality_command
        return personality_command("runc")

    async def _runc(self, *args, stdio=None) -> None:
        """Run the runtime; its error (from its json log) as Internal."""
        path, prefix, env = self._runtime()
        log = os.path.join(self.config.state_dir, "runtime.log")
        argv = prefix + ["--root", self.config.runtime_root, "--log", log, "--log-format", "json", *args]
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            fds = stdio or (null, null, null)
            actions = [(os.POSIX_SPAWN_DUP2, fd, i) for i, fd in enumerate(fds)]
            pid = os.posix_spawn(path, argv, env if env is not None else os.environ,
                                 file_actions=actions, setsid=False)
        finally:
            os.close(null)
        status = await self.reaper.wait(pid)
        if exit_code(status) != 0:
            raise Internal(f"runc {args[0]}: {self._last_error(log) or f'exit status {exit_code(status)}'}")

    @staticmethod
    def _last_error(log: str) -> str:
        try:
            with open(log) as f:
                lines = f.read().splitlines()
        except OSError:
            return ""
        for line in reversed(lines):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("level") == "error":
                return entry.get("msg", "")
        return ""

    # --- RPC: task lifecycle ---------------------------------------------------

    async def create(self, bundle: str, log_path: str = "", stdin: bool = False,
                     terminal: bool = False) -> dict:
        if self.pid:
            raise FailedPrecondition(f"task {self.config.id} already created")
        if not os.path.isfile(os.path.join(bundle, "config.json")):
            raise InvalidArgument(f"bundle {bundle}: no config.json")
        self.bundle = bundle
        if log_path:
            self.log = JSONLog(log_path, self.config.log_max_size, self.config.log_max_files)
        pid_file = os.path.join(self.config.state_dir, "init.pid")
        args = ["create", "--bundle", bundle, "--pid-file", pid_file]
        to_close = []
        try:
            if terminal:
                console = os.path.join(self.config.state_dir, "console.sock")
                server = await self._console_listener(console)
                stdio = None
                args += ["--console-socket", console]
            else:
                out_r, out_w = os.pipe2(os.O_CLOEXEC)
                err_r, err_w = os.pipe2(os.O_CLOEXEC)
                if stdin:
                    in_r, in_w = os.pipe2(os.O_CLOEXEC)
                    self.stdin_fd = in_w
                else:
                    in_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
                to_close = [out_w, err_w, in_r]
                stdio = (in_r, out_w, err_w)
                self._read_output(out_r, "stdout")
                self._read_output(err_r, "stderr")
            await self._runc(*args, self.config.id, stdio=stdio)
            if terminal:
                self.master_fd = await asyncio.wait_for(server, 5)
                self.stdin_fd = self.master_fd
                self._read_output(self.master_fd, "stdout", owned=False)
        finally:
            for fd in to_close:
                os.close(fd)
        with open(pid_file) as f:
            self.pid = int(f.read())
        self.status = "created"
        # watch the init's exit from now on: it is ours once runc has exited
        self.reaper.wait(self.pid).add_done_callback(self._init_exited)
        return {"pid": self.pid}

    async def _console_listener(self, path: str) -> asyncio.Future:
        """Accept one connection on path and receive the pty master from it."""
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        sock.bind(path)
        sock.listen(1)
        sock.setblocking(False)

        async def accept():
            try:
                conn, _ = await self.loop.sock_accept(sock)
                with conn:
                    conn.setblocking(True)
                    _, fds, _, _ = await self.loop.run_in_executor(
                        None, lambda: socket.recv_fds(conn, 4096, 1))
                return fds[0]
            finally:
                sock.close()
                os.unlink(path)
        return asyncio.ensure_future(accept())

    def _read_output(self, fd: int, stream: str, owned: bool = True) -> None:
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
                self.loop.remove_reader(fd)
                if self.log:
                    self.log.flush(stream)
                if owned:
                    os.close(fd)
                self.outputs -= 1
                return
            if self.log:
                self.log.write(stream, data)
            for conn in list(self.subscribers):
                conn.notify("io", {"stream": stream, "data": data})
        self.loop.add_reader(fd, readable)

    def _init_exited(self, fut: asyncio.Future) -> None:
        self.exit_status = exit_code(fut.result())
        self.exited_at = rfc3339nano()
        self.status = "stopped"
        record = {"pid": self.pid, "exit_status": self.exit_status, "exited_at": self.exited_at}
        tmp = os.path.join(self.config.state_dir, "exit.json.tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(self.config.state_dir, "exit.json"))
        if not self.exited.done():
            self.exited.set_result(record)
        for conn in list(self.subscribers):
            conn.notify("task.exit", record)

    async def start(self) -> dict:
        self._need("created")
        await self._runc("start", self.config.id)
        if self.status == "created":
            self.status = "running"
        return {"pid": self.pid}

    async def wait(self) -> dict:
        if not self.pid:
            raise FailedPrecondition(f"task {self.config.id} not created")
        return await asyncio.shield(self.exited)

    def state(self) -> dict:
        return {"id": self.config.id, "namespace": self.config.namespace, "pid": self.pid,
                "status": self.status if self.pid else "unknown", "bundle": self.bundle,
                "exit_status": self.exit_status, "exited_at": self.exited_at,
                "stdin": self.stdin_fd >= 0, "terminal": self.master_fd >= 0}

    async def kill(self, signal: int = 15, all: bool = False) -> None:
        if not self.pid:
            raise NotFound(f"task {self.config.id} not created")
        if self.status == "stopped" and not all:
            raise NotFound(f"task {self.config.id}: process already finished")
        args = ["kill"] + (["--all"] if all else []) + [self.config.id, str(signal)]
        await self._runc(*args)

    async def pause(self) -> None:
        self._need("running")
        await self._runc("pause", self.config.id)
        self.status = "paused"

    async def resume(self) -> None:
        self._need("paused")
        await self._runc("resume", self.config.id)
        self.status = "running"

    def pids(self) -> list:
        from busybox_engine.runtime import state
        from busybox_engine.runtime.cgroups import manager_for
        try:
            return manager_for(state.load(self.config.runtime_root, self.config.id)).pids()
        except Exception:  # noqa: BLE001 - deleted or never created
            return []

    async def delete(self) -> dict:
        if not self.pid:
            raise NotFound(f"task {self.config.id} not created")
        if self.status not in ("stopped", "created"):
            raise FailedPrecondition(f"task {self.config.id} is {self.status}: kill it first")
        await self._runc("delete", "--force", self.config.id)
        if self.status == "created":
            await asyncio.wait_for(asyncio.shield(self.exited), 10)
        # the output may still be draining: give it a moment, then close
        for _ in range(100):
            if self.outputs == 0:
                break
            await asyncio.sleep(0.01)
        if self.log:
            self.log.close()
        self.loop.call_soon(self.done.set)
        return {"pid": self.pid, "exit_status": self.exit_status, "exited_at": self.exited_at}

    # --- RPC: I/O ----------------------------------------------------------------

    def attach(self, *, _conn) -> dict:
        """Stream output to this connection as `io` notifications, and the
        exit as `task.exit`."""
        self.subscribers.add(_conn)
        _conn.closed.add_done_callback(lambda _: self.subscribers.discard(_conn))
        return self.state()

    def write_stdin(self, data: bytes) -> int:
        if self.stdin_fd < 0:
            raise FailedPrecondition("the task has no stdin")
        return os.write(self.stdin_fd, data)

    def close_stdin(self) -> None:
        if self.stdin_fd >= 0 and self.stdin_fd != self.master_fd:
            os.close(self.stdin_fd)
            self.stdin_fd = -1

    def resize_pty(self, width: int, height: int) -> None:
        if self.master_fd < 0:
            raise FailedPrecondition("the task has no terminal")
        import fcntl
        import struct
        import termios
        fcntl.ioctl(self.master_fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def shutdown(self) -> None:
        self.loop.call_soon(self.done.set)

    def _need(self, status: str) -> None:
        if not self.pid:
            raise NotFound(f"task {self.config.id} not created")
        if self.status != status:
            raise FailedPrecondition(f"task {self.config.id} is {self.status}, not {status}")


async def serve(config: Config) -> int:
    from busybox_engine.daemon.lifecycle import STOP_SIGNALS, SocketClaim
    from busybox_engine.rpc.methods import Registry
    from busybox_engine.rpc.server import Server
    reaper = Reaper()
    shim = Shim(config, reaper)
    registry = Registry()
    registry.add_service("task", shim)
    claim = SocketClaim(config.socket, "containerd-shim").claim()
    server = Server(registry)
    for sig in STOP_SIGNALS:
        # the container outlives a TERM to its shim only through delete
        shim.loop.add_signal_handler(sig, shim.done.set)
    try:
        await server.start(config.socket)
        await shim.done.wait()
        await asyncio.sleep(0)  # let the last reply go out
    finally:
        await server.close()
        claim.release()
        reaper.close()
    return 0


