"""containerd-shim: the parent of one container.

It runs the runtime (our runc unless told otherwise) to create the
container and its exec'd processes, becomes their parent once runc exits
(child subreaper), owns their stdio, writes the init's output to a
json-file log and every process's output to attached clients, and records
the init's exit on disk, so containerd and dockerd can come and go while
the container runs. Processes are named by exec id; "" is the init.
"""
import asyncio
import json
import os
import socket

from busybox_engine.daemon.background import spawn
from busybox_engine.rpc.errors import (AlreadyExists, FailedPrecondition, Internal,
                                       InvalidArgument, NotFound)
from busybox_engine.shim.config import Config
from busybox_engine.shim.iolog import JSONLog
from busybox_engine.shim.process import Process
from busybox_engine.shim.reaper import Reaper
from busybox_engine.shim.runtime import INLINE_COMMANDS, fork_runtime, last_error, run_inline
from busybox_engine.util.procs import exit_code


class Shim:
    def __init__(self, config: Config, reaper: Reaper):
        self.config = config
        self.reaper = reaper
        self.loop = asyncio.get_running_loop()
        self.bundle = ""
        self.processes = {}      # exec id -> Process; "" is the init
        self.subscribers = set()
        self.done = asyncio.Event()   # set when the shim should exit
        os.makedirs(config.state_dir, mode=0o711, exist_ok=True)

    # --- helpers (not RPC methods: private names) ----------------------------

    def _process(self, exec_id: str = "") -> Process:
        p = self.processes.get(exec_id)
        if p is None:
            raise NotFound(f"task {self.config.id}: no process {exec_id!r}" if exec_id
                           else f"task {self.config.id} not created")
        return p

    def notify(self, method: str, params: dict) -> None:
        for conn in list(self.subscribers):
            conn.notify(method, params)

    async def runc(self, *args, stdio=None, inline: bool = False) -> None:
        """Run the runtime; its error (from its json log) as Internal.
        stdio: the (stdin, stdout, stderr) it gets, /dev/null by default."""
        if stdio is None and not self.config.runtime and (inline or args[0] in INLINE_COMMANDS):
            self._check(args[0], run_inline(self.runtime_argv(args)))
            return
        await self.runc_done(self.spawn_runc(*args, stdio=stdio), args[0])

    def _check(self, command: str, rc: int) -> None:
        if rc != 0:
            raise Internal(f"runc {command}: {last_error(self.runtime_log) or f'exit status {rc}'}")

    def runtime_argv(self, args: tuple) -> list:
        return ["--root", self.config.runtime_root, "--log", self.runtime_log, "--log-format", "json", *args]

    def spawn_runc(self, *args, stdio=None) -> int:
        """Start the runtime with stdio (stdin, stdout, stderr; /dev/null
        for any left None); its pid. Our own runtime is forked, not exec'd: the shim
        has it loaded already (the zygote imported it), which saves its
        start-up and imports on every create, start, exec and delete."""
        argv = self.runtime_argv(args)
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            fds = [null if fd is None else fd for fd in stdio or (None, None, None)]
            if not self.config.runtime:
                return fork_runtime(argv, fds)
            actions = [(os.POSIX_SPAWN_DUP2, fd, i) for i, fd in enumerate(fds)]
            return os.posix_spawn(self.config.runtime, [os.path.basename(self.config.runtime)] + argv,
                                  os.environ, file_actions=actions)
        finally:
            os.close(null)

    async def runc_done(self, pid: int, command: str) -> None:
        self._check(command, exit_code(await self.reaper.wait(pid)))

    @property
    def runtime_log(self) -> str:
        return os.path.join(self.config.state_dir, "runtime.log")

    async def console_listener(self, path: str) -> asyncio.Future:
        """Accept one connection on path; a future of the pty master it sends."""
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
        return spawn(accept())

    # --- RPC: task lifecycle ---------------------------------------------------
    # (public methods are the `task.*` RPC methods; see serve())

    async def create(self, bundle: str, log_path: str = "", stdin: bool = False,
                     terminal: bool = False) -> dict:
        if "" in self.processes:
            raise AlreadyExists(f"task {self.config.id} already created")
        if not os.path.isfile(os.path.join(bundle, "config.json")):
            raise InvalidArgument(f"bundle {bundle}: no config.json")
        log = JSONLog(log_path, self.config.log_max_size, self.config.log_max_files) if log_path else None
        init = Process(self, "", log)
        pid_file = os.path.join(self.config.state_dir, "init.pid")
        try:
            await init.spawn(["create", "--bundle", bundle, "--pid-file", pid_file, self.config.id],
                             stdin, terminal, pid_file)
        except BaseException:
            await init.drained()
            raise
        self.bundle = bundle
        self.processes[""] = init
        return {"pid": init.pid}

    async def start(self) -> dict:
        init = self._need("", "created")
        await self.runc("start", self.config.id)
        if init.status == "created":
            init.status = "running"
        return {"pid": init.pid}

    async def exec(self, exec_id: str, process: dict, stdin: bool = False,
                   terminal: bool = False) -> dict:
        """Start another process in the container (runc exec -d)."""
        self._need("", "running")
        if not exec_id or "/" in exec_id or exec_id in self.processes:
            raise (AlreadyExists if exec_id in self.processes else InvalidArgument)(
                f"exec id {exec_id!r} is taken or invalid")
        p = Process(self, exec_id)
        spec_file = os.path.join(self.config.state_dir, f"exec-{exec_id}.json")
        pid_file = os.path.join(self.config.state_dir, f"exec-{exec_id}.pid")
        with open(spec_file, "w") as f:
            json.dump(dict(process, terminal=terminal), f)
        self.processes[exec_id] = p
        try:
            await p.spawn(["exec", "--process", spec_file, "--detach", "--pid-file", pid_file,
                           self.config.id], stdin, terminal, pid_file)
        except BaseException:
            del self.processes[exec_id]
            await p.drained()
            raise
        finally:
            os.unlink(spec_file)
        p.status = "running"
        return {"pid": p.pid}

    async def wait(self, exec_id: str = "") -> dict:
        return await asyncio.shield(self._process(exec_id).exited)

    def state(self, exec_id: str = "") -> dict:
        if exec_id:
            return self._process(exec_id).info()
        init = self.processes.get("")
        base = {"id": self.config.id, "namespace": self.config.namespace, "bundle": self.bundle}
        if init is None:
            return dict(base, pid=0, status="unknown", exit_status=None, exited_at=None)
        return dict(init.info(), **base)

    async def kill(self, signal: int = 15, all: bool = False, exec_id: str = "") -> None:
        p = self._process(exec_id)
        if p.status == "stopped" and not all:
            raise NotFound(f"task {self.config.id}: process already finished")
        if exec_id:
            os.kill(p.pid, signal)
            return
        await self.runc("kill", *(["--all"] if all else []), self.config.id, str(signal))

    async def pause(self) -> None:
        self._need("", "running").status = "paused"
        try:
            await self.runc("pause", self.config.id)
        except BaseException:
            self.processes[""].status = "running"
            raise

    async def resume(self) -> None:
        init = self._need("", "paused")
        await self.runc("resume", self.config.id)
        init.status = "running"

    def pids(self) -> list:
        from busybox_engine.runtime import state
        from busybox_engine.runtime.cgroups import manager_for
        try:
            return manager_for(state.load(self.config.runtime_root, self.config.id)).pids()
        except Exception:  # noqa: BLE001 - deleted or never created
            return []

    async def stats(self) -> dict:
        """The container's cgroup figures, from `runc events --stats` so any
        runc-compatible runtime gives them (memory, cpu, pids, blkio...)."""
        init = self._process("")
        if init.status not in ("running", "paused"):
            raise FailedPrecondition(f"task {self.config.id} is {init.status}")
        r, w = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(r, False)  # ours only: runc writes to a blocking pipe
        try:
            pid = self.spawn_runc("events", "--stats", self.config.id, stdio=(None, w, None))
        finally:
            os.close(w)
        out = bytearray()
        eof = self.loop.create_future()

        def readable():
            try:
                chunk = os.read(r, 65536)
            except BlockingIOError:
                return
            if chunk:
                out.extend(chunk)
            elif not eof.done():
                eof.set_result(None)
        self.loop.add_reader(r, readable)
        try:
            await eof
        finally:
            self.loop.remove_reader(r)
            os.close(r)
        await self.runc_done(pid, "events")
        try:
            return json.loads(out)["data"]
        except (ValueError, KeyError, TypeError):
            raise Internal(f"runc events --stats: unreadable output {bytes(out[:200])!r}") from None

    async def delete(self, exec_id: str = "") -> dict:
        p = self._process(exec_id)
        if exec_id:
            if p.status != "stopped":
                raise FailedPrecondition(f"exec {exec_id} is still running")
            await p.drained()
            del self.processes[exec_id]
            return p.info()
        if p.status not in ("stopped", "created"):
            raise FailedPrecondition(f"task {self.config.id} is {p.status}: kill it first")
        await self.runc("delete", "--force", self.config.id, inline=p.status == "stopped")
        await asyncio.wait_for(asyncio.shield(p.exited), 10)
        for proc in self.processes.values():
            await proc.drained()
        self.loop.call_soon(self.done.set)
        return p.info()

    # --- RPC: I/O ----------------------------------------------------------------

    def attach(self, *, _conn) -> dict:
        """Stream output to this connection as `io` notifications (with the
        exec id and stream) and exits as `task.exit`."""
        self.subscribers.add(_conn)
        _conn.closed.add_done_callback(lambda _: self.subscribers.discard(_conn))
        return self.state()

    def write_stdin(self, data: bytes, exec_id: str = "") -> int:
        p = self._process(exec_id)
        if p.stdin_fd < 0:
            raise FailedPrecondition("the process has no stdin")
        return os.write(p.stdin_fd, data)

    def close_stdin(self, exec_id: str = "") -> None:
        p = self._process(exec_id)
        if p.stdin_fd >= 0 and p.stdin_fd != p.master_fd:
            os.close(p.stdin_fd)
            p.stdin_fd = -1

    def resize_pty(self, width: int, height: int, exec_id: str = "") -> None:
        p = self._process(exec_id)
        if p.master_fd < 0:
            raise FailedPrecondition("the process has no terminal")
        import fcntl
        import struct
        import termios
        fcntl.ioctl(p.master_fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def shutdown(self) -> None:
        self.loop.call_soon(self.done.set)

    def _need(self, exec_id: str, status: str) -> Process:
        p = self._process(exec_id)
        if p.status != status:
            raise FailedPrecondition(f"task {self.config.id} is {p.status}, not {status}")
        return p


# RPC methods: the Shim's public coroutines and functions, nothing else
METHODS = ("create", "start", "exec", "wait", "state", "kill", "pause", "resume", "pids",
           "stats", "delete", "attach", "write_stdin", "close_stdin", "resize_pty", "shutdown")


async def serve(config: Config) -> int:
    from busybox_engine.daemon.lifecycle import STOP_SIGNALS, SocketClaim
    from busybox_engine.rpc.methods import Registry
    from busybox_engine.rpc.server import Server
    reaper = Reaper()
    shim = Shim(config, reaper)
    registry = Registry()
    for name in METHODS:
        registry.add(f"task.{name}", getattr(shim, name))
    claim = SocketClaim(config.socket, "containerd-shim").claim()
    server = Server(registry)
    for sig in STOP_SIGNALS:
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
