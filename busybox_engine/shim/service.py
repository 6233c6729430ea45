"""containerd-shim: the parent of one container.

It runs the runtime (our runc unless told otherwise) to create the
container and its exec'd processes, becomes their parent once runc exits
(child subreaper), owns their stdio, writes the init's output to a
json-file log and every process's output to attached streams, and records
the init's exit on disk, so containerd and dockerd can come and go while
the container runs. Processes are named by exec id; "" is the init.

A shim never outlives its purpose: one whose create was cut off (its
requester gone before the answer) undoes it, and one with no container
and no client exits on its own.
"""
import asyncio
import json
import os
import socket
import sys

from busybox_engine.daemon.background import spawn
from busybox_engine.rpc.errors import (AlreadyExists, FailedPrecondition, Internal,
                                       InvalidArgument, NotFound)
from busybox_engine.shim.config import Config
from busybox_engine.shim.iolog import CRILog, JSONLog
from busybox_engine.shim.process import Process
from busybox_engine.shim.reaper import Reaper
from busybox_engine.shim.runtime import INLINE_COMMANDS, fork_runtime, last_error, run_inline
from busybox_engine.util.atomicfile import atomic_write
from busybox_engine.util.procs import exit_code

# a shim with no container exits once it has had no client this long
IDLE_SECONDS = 10.0


class Shim:
    def __init__(self, config: Config, reaper: Reaper):
        self.config = config
        self.reaper = reaper
        self.loop = asyncio.get_running_loop()
        self.bundle = ""
        self.processes = {}      # exec id -> Process; "" is the init
        self.creating = False
        self.subscribers = set()
        self.clients = 0         # open RPC connections
        self.done = asyncio.Event()   # set when the shim should exit
        self._idle = None
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

    def client_count(self, delta: int) -> None:
        """Connections come and go: with none left and no container, wait a
        while for one, then exit (containerd died before it asked us for
        anything, or after it undid a create)."""
        self.clients += delta
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self.clients == 0 and not self.processes and not self.creating:
            self._idle = self.loop.call_later(IDLE_SECONDS, self._idle_exit)

    def _idle_exit(self) -> None:
        if self.clients == 0 and not self.processes and not self.creating:
            sys.stderr.write("containerd-shim: no container and no client: exiting\n")
            self.done.set()

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

    def console_listener(self, path: str) -> asyncio.Future:
        """Accept one connection on path; a future of the pty master it
        sends. No thread: the shim forks runc, and a fork must find none."""
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
        sock.bind(path)
        sock.listen(1)

        async def accept() -> int:
            try:
                conn, _ = await self.loop.sock_accept(sock)
                with conn:
                    return await self._receive_fd(conn)
            finally:
                sock.close()
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
        return spawn(accept())

    async def _receive_fd(self, conn: socket.socket) -> int:
        conn.setblocking(False)
        got = self.loop.create_future()

        def readable() -> None:
            try:
                _, ancdata, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(4), socket.MSG_CMSG_CLOEXEC)
            except BlockingIOError:
                return
            except OSError as e:
                got.done() or got.set_exception(e)
                return
            fds = [int.from_bytes(raw[i:i + 4], sys.byteorder, signed=True)
                   for level, kind, raw in ancdata
                   if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS
                   for i in range(0, len(raw) - 3, 4)]
            if not got.done():
                if fds:
                    got.set_result(fds[0])
                else:
                    got.set_exception(Internal("console socket: no terminal came"))
            for fd in fds[1:]:
                os.close(fd)
        self.loop.add_reader(conn.fileno(), readable)
        try:
            return await got
        finally:
            self.loop.remove_reader(conn.fileno())

    async def _spawn(self, p: Process, args: list, stdin: bool, pid_file: str) -> None:
        """Run `runc ARGS` with p's stdio; then p is ours: watch its exit."""
        receiving = None
        if p.terminal:
            # beside the shim's own socket, named by a digest: a state dir
            # with a 64-character id in it is too long for a socket address
            import hashlib
            tag = hashlib.sha256(f"{self.config.socket}\0{p.exec_id}".encode()).hexdigest()[:16]
            console = os.path.join(os.path.dirname(self.config.socket) or ".", f"c-{tag}.sock")
            receiving = self.console_listener(console)
            args = args[:1] + ["--console-socket", console] + args[1:]
        try:
            await self.runc(*args, stdio=p.stdio)
            if receiving is not None:
                p.take_terminal(await asyncio.wait_for(receiving, 5), stdin)
        except BaseException:
            if receiving is not None:
                receiving.cancel()
            raise
        finally:
            p.runtime_started()
        with open(pid_file) as f:
            p.pid = int(f.read())
        p.watch_exit()

    # --- RPC: task lifecycle ---------------------------------------------------
    # (public methods are the `task.*` RPC methods; see serve())

    async def create(self, bundle: str, log_path: str = "", stdin: bool = False,
                     terminal: bool = False, log_max_size: int = 0, log_max_files: int = 0,
                     log_format: str = "json-file", *, _conn) -> dict:
        if "" in self.processes or self.creating:
            raise AlreadyExists(f"task {self.config.id} already created")
        if not os.path.isfile(os.path.join(bundle, "config.json")):
            raise InvalidArgument(f"bundle {bundle}: no config.json")
        self.creating = True
        try:
            if log_format not in ("json-file", "cri"):
                raise InvalidArgument(f"unknown log format {log_format!r}")
            if log_format == "cri" and log_path:
                # kubelet made the pod's log directory; the container's own may not be there yet
                os.makedirs(os.path.dirname(log_path), mode=0o755, exist_ok=True)
            log = (CRILog if log_format == "cri" else JSONLog)(
                log_path, log_max_size or self.config.log_max_size,
                log_max_files or self.config.log_max_files) if log_path else None
            init = Process(self, "", log, terminal)
            init.want_stdin = stdin
            if not terminal:
                init.make_pipes(stdin)
            pid_file = os.path.join(self.config.state_dir, "init.pid")
            try:
                await self._spawn(init, ["create", "--bundle", bundle, "--pid-file", pid_file,
                                         self.config.id], stdin, pid_file)
            except BaseException:
                await init.drained()
                raise
            self.bundle = bundle
            self.processes[""] = init
            if _conn.closed.done():
                # whoever asked is gone (containerd killed mid-create): nobody
                # knows of this container, so it goes again
                sys.stderr.write("containerd-shim: create cut off: undoing it\n")
                await self._undo()
                raise Internal("create cut off")
        finally:
            self.creating = False
        return {"pid": init.pid}

    async def _undo(self) -> None:
        """Delete the container, whatever its state, and exit."""
        init = self.processes.get("")
        if init is not None:
            try:
                await self.runc("delete", "--force", self.config.id)
                await asyncio.wait_for(asyncio.shield(init.exited), 10)
            except Exception as e:  # noqa: BLE001 - logged; containerd's cleanup runs runc again
                sys.stderr.write(f"containerd-shim: delete: {e}\n")
        for p in list(self.processes.values()):
            await p.drained()
        self.processes.clear()
        self.loop.call_soon(self.done.set)

    async def start(self, exec_id: str = "") -> dict:
        if exec_id:
            return await self._start_exec(exec_id)
        init = self._need("", "created")
        await self.runc("start", self.config.id)
        if init.status == "created":
            init.status = "running"
        return {"pid": init.pid}

    async def exec(self, exec_id: str, process: dict, stdin: bool = False,
                   terminal: bool = False) -> dict:
        """Add a process (started by start(exec_id), once its stdio is attached)."""
        self._need("", "running")
        if not exec_id or "/" in exec_id or exec_id in self.processes:
            raise (AlreadyExists if exec_id in self.processes else InvalidArgument)(
                f"exec id {exec_id!r} is taken or invalid")
        p = Process(self, exec_id, terminal=terminal)
        p.spec = dict(process, terminal=terminal)
        p.want_stdin = stdin
        if not terminal:
            p.make_pipes(stdin)
        self.processes[exec_id] = p
        return p.info()

    async def _start_exec(self, exec_id: str) -> dict:
        p = self._need(exec_id, "created")
        self._need("", "running")
        p.status = "starting"
        spec_file = os.path.join(self.config.state_dir, f"exec-{exec_id}.json")
        pid_file = os.path.join(self.config.state_dir, f"exec-{exec_id}.pid")
        atomic_write(spec_file, json.dumps(p.spec), durable=False)
        try:
            await self._spawn(p, ["exec", "--process", spec_file, "--detach", "--pid-file", pid_file,
                                  self.config.id], p.want_stdin, pid_file)
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
            return dict(base, pid=0, status="creating" if self.creating else "unknown",
                        exit_status=None, exited_at=None)
        return dict(init.info(), **base)

    async def kill(self, signal: int = 15, all: bool = False, exec_id: str = "") -> None:
        p = self._process(exec_id)
        if p.status == "stopped" and not all:
            raise NotFound(f"task {self.config.id}: process already finished")
        if exec_id:
            if not p.pid:
                raise FailedPrecondition(f"exec {exec_id} is not started")
            os.kill(p.pid, signal)
            return
        try:
            await self.runc("kill", *(["--all"] if all else []), self.config.id, str(signal))
        except Internal as e:
            # it exited between our look and the runtime's: not an error of ours
            if p.status == "stopped" or "not running" in e.message:
                raise NotFound(f"task {self.config.id}: process already finished") from None
            raise

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

    async def update(self, resources: dict) -> None:
        """New cgroup limits (runtime-spec linux.resources) for the running
        container, through `runc update --resources`."""
        if not isinstance(resources, dict):
            raise InvalidArgument("update: resources must be an object")
        init = self._process("")
        if init.status not in ("created", "running", "paused"):
            raise FailedPrecondition(f"task {self.config.id} is {init.status}: nothing to update")
        path = os.path.join(self.config.state_dir, "update.json")
        with open(path, "w") as f:
            json.dump(resources, f)
        try:
            await self.runc("update", "--resources", path, self.config.id)
        finally:
            os.unlink(path)

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
            if chunk and len(out) < (16 << 20):
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

    async def delete(self, exec_id: str = "", force: bool = False) -> dict:
        """Delete a stopped process (or a created one); force: whatever its
        state (killed first; a paused container is thawed to die)."""
        p = self._process(exec_id)
        if exec_id:
            if p.status not in ("stopped", "created"):
                if not force:
                    raise FailedPrecondition(f"exec {exec_id} is still running")
                if p.pid:
                    try:
                        os.kill(p.pid, 9)
                    except ProcessLookupError:
                        pass
                    await asyncio.wait_for(asyncio.shield(p.exited), 10)
            await p.drained()
            del self.processes[exec_id]
            return p.info()
        if p.status not in ("stopped", "created") and not force:
            raise FailedPrecondition(f"task {self.config.id} is {p.status}: kill it first")
        await self.runc("delete", "--force", self.config.id, inline=p.status == "stopped")
        await asyncio.wait_for(asyncio.shield(p.exited), 10)
        for proc in list(self.processes.values()):  # execs come and go meanwhile
            await proc.drained()
        self.processes.clear()  # nothing left to undo: shutdown just exits
        self.loop.call_soon(self.done.set)
        return p.info()

    # --- RPC: I/O ----------------------------------------------------------------

    def subscribe(self, *, _conn) -> dict:
        """Exits go to this connection as `task.exit` notifications."""
        self.subscribers.add(_conn)
        _conn.closed.add_done_callback(lambda _: self.subscribers.discard(_conn))
        return self.state()

    def attach(self, exec_id: str = "", stdin: bool = False, stdout: bool = True, stderr: bool = True,
               close_stdin: bool = False, *, _conn):
        """This connection becomes a stream of the process's output (and
        input, with stdin): see shim/stream.py."""
        from busybox_engine.rpc.server import HandOver
        p = self._process(exec_id)
        if stdin and p.stdin is None and not p.want_stdin:
            raise FailedPrecondition("the process has no stdin")

        def take(sock: socket.socket, reply: bytes) -> None:
            sock.setblocking(True)
            sock.sendall(reply)
            spawn(self._adopt(sock, p, stdin, stdout, stderr, close_stdin))
        return HandOver({"terminal": p.terminal}, take)

    async def _adopt(self, sock: socket.socket, p: Process, stdin: bool, stdout: bool, stderr: bool,
                     close_stdin: bool) -> None:
        from busybox_engine.shim.stream import Stream
        sock.setblocking(False)
        try:
            await self.loop.connect_accepted_socket(
                lambda: Stream(p, stdin, stdout, stderr, close_stdin), sock)
        except OSError:
            sock.close()

    async def write_stdin(self, data: bytes, exec_id: str = "") -> int:
        """Queue data for the process's stdin; answered once the queue is
        short again (a client cannot outrun the container without end)."""
        p = self._process(exec_id)
        if p.stdin is None or p.stdin.closed:
            raise FailedPrecondition("the process has no stdin")
        p.stdin.write(data)
        await p.stdin.below()
        return len(data)

    def close_stdin(self, exec_id: str = "") -> None:
        p = self._process(exec_id)
        if p.stdin is not None and not p.terminal:
            p.stdin.close()

    def resize_pty(self, width: int, height: int, exec_id: str = "") -> None:
        p = self._process(exec_id)
        if p.master_fd < 0:
            raise FailedPrecondition("the process has no terminal")
        import fcntl
        import struct
        import termios
        fcntl.ioctl(p.master_fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def reopen_log(self) -> None:
        """The log file again at its path (kubelet rotated it away)."""
        p = self._process("")
        if p.log is None or not hasattr(p.log, "reopen"):
            raise FailedPrecondition(f"task {self.config.id} has no log to reopen")
        p.log.reopen()

    async def shutdown(self) -> None:
        """Exit; a container still here goes first (never left orphaned)."""
        if "" in self.processes:
            await self._undo()
            return
        self.loop.call_soon(self.done.set)

    def _need(self, exec_id: str, status: str) -> Process:
        p = self._process(exec_id)
        if p.status != status:
            raise FailedPrecondition(f"task {self.config.id} is {p.status}, not {status}")
        return p


# RPC methods: the Shim's public coroutines and functions, nothing else
METHODS = ("create", "start", "exec", "wait", "state", "kill", "pause", "resume", "update", "pids",
           "stats", "delete", "subscribe", "attach", "write_stdin", "close_stdin", "resize_pty",
           "shutdown", "reopen_log")


def write_pid_file(state_dir: str) -> None:
    """Our pid and start time, so containerd can tell it is still us."""
    with open(f"/proc/{os.getpid()}/stat", "rb") as f:
        data = f.read()
    start = int(data[data.rindex(b")") + 2:].split()[19])
    atomic_write(os.path.join(state_dir, "shim.pid"), f"{os.getpid()} {start}\n", durable=False)


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
    write_pid_file(config.state_dir)
    server = Server(registry, on_connection=shim.client_count)
    for sig in STOP_SIGNALS:
        shim.loop.add_signal_handler(sig, shim.done.set)
    try:
        await server.start(config.socket)
        shim.client_count(0)  # idle until containerd connects
        await shim.done.wait()
        await asyncio.sleep(0)  # let the last reply go out
    finally:
        await server.close()
        claim.release()
        reaper.close()
    return 0
