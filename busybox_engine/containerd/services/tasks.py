"""containerd's tasks service.

A task is one container's processes, run by its own shim. containerd
starts the shim detached (own session), talks to it over msgpack-RPC, and
passes its exits on as events. Nothing here owns a container: containerd
can be killed at any moment and restarted, and recover() finds every task
again from its directory on disk: a live shim is reconnected, what a dead
one (or a create, start or delete cut off halfway) left is cleaned up.

On disk, per task: STATE/tasks/NS/ID/ (bundle/, the rootfs mount point,
shim/ with the shim's own state and pid, shim.log); the shim's socket is
STATE/s/HASH.sock, named by a digest of NS/ID so that it fits a socket
address whatever the ids, and no two tasks share one.
"""
import asyncio
import hashlib
import json
import os
import shutil
import sys

from busybox_engine.containerd.services.events import Events
from busybox_engine.containerd.store import Store
from busybox_engine.daemon.background import spawn
from busybox_engine.rpc.aclient import AsyncClient
from busybox_engine.rpc.errors import FailedPrecondition, InvalidArgument, NotFound, RPCError, Unavailable
from busybox_engine.runtime.cgroups.hierarchy import move_to_root
from busybox_engine.util.atomicfile import atomic_write

# how long a shim may take to answer a call during recovery or a forced
# delete before it is taken for hung (and killed)
SHIM_TIMEOUT = 5.0
# how long recovery waits for a shim that is in the middle of a create
SETTLE_TIMEOUT = 15.0
# sun_path holds 107 characters; longer socket paths go to SHORT_SOCKET_DIR
MAX_SOCKET_PATH = 100
SHORT_SOCKET_DIR = "/run/busybox-engine/s"
# the annotation of a spec whose process.user is a name to resolve in its rootfs
USER_ANNOTATION = "io.busybox-engine.user"


class ShimHandle:
    def __init__(self, namespace: str, cid: str, client: AsyncClient):
        self.namespace = namespace
        self.id = cid
        self.client = client
        self.closing = False  # set when we close it ourselves: not a lost shim


class Tasks:
    def __init__(self, state: str, store: Store, events: Events, images=None):
        self.images = images
        self.state_root = state
        self.store = store
        self.events = events
        self.shims = {}      # (namespace, id) -> ShimHandle
        self.busy = set()    # (namespace, id) being created, deleted or recovered
        from busybox_engine.shim.zygote import Zygote
        self.zygote = Zygote()
        self.use_zygote = os.environ.get("BUSYBOX_ENGINE_SHIM_ZYGOTE", "1") != "0"
        self.loop = asyncio.get_running_loop()
        self._trim = None   # the pending malloc_trim

    # --- where things live ---------------------------------------------------------

    def task_dir(self, ns: str, cid: str) -> str:
        return os.path.join(self.state_root, "tasks", ns, cid)

    def shim_socket(self, ns: str, cid: str) -> str:
        digest = hashlib.sha256(f"{ns}/{cid}".encode()).hexdigest()[:24]
        path = os.path.join(self.state_root, "s", f"{digest}.sock")
        if len(path) > MAX_SOCKET_PATH:
            # a deep state directory: the address would not fit in sun_path;
            # a short directory of its own, named by the state directory too
            digest = hashlib.sha256(f"{os.path.abspath(self.state_root)}\0{ns}/{cid}".encode()).hexdigest()[:32]
            path = os.path.join(SHORT_SOCKET_DIR, f"{digest}.sock")
        return path

    def has_task(self, ns: str, cid: str) -> bool:
        return (ns, cid) in self.shims or (ns, cid) in self.busy

    # --- shims ---------------------------------------------------------------------

    def _on_shim_event(self, ns: str, cid: str):
        def handler(method: str, params: dict) -> None:
            if method == "task.exit":
                topic = "/tasks/exit" if not params.get("exec_id") else "/tasks/exec-exit"
                self.events.publish(ns, topic, dict(params, container_id=cid))
        return handler

    async def _connect(self, ns: str, cid: str, timeout: float = 10) -> ShimHandle:
        """Connect to the task's shim and subscribe to its events, retrying
        for up to timeout seconds (a new shim listens within a few ms).
        Unavailable if nothing listens; TimeoutError if it does not answer."""
        sock = self.shim_socket(ns, cid)
        started = self.loop.time()
        deadline = started + timeout
        delay = 0.0005
        handle = ShimHandle(ns, cid, None)
        handle.closing = True  # not ours until it answers
        while True:
            try:
                client = await asyncio.wait_for(AsyncClient.connect(
                    sock, on_notification=self._on_shim_event(ns, cid),
                    on_close=lambda _e: self._shim_lost(handle)), SHIM_TIMEOUT)
                break
            except Unavailable:
                if self.loop.time() > deadline:
                    raise
                await asyncio.sleep(delay)
                # a new shim listens within ~10 ms: poll finely that long, so
                # a run does not wait out a long backoff step; then back off
                delay = min(delay * 2, 0.001 if self.loop.time() < started + 0.1 else 0.02)
        handle.client = client
        try:
            await asyncio.wait_for(client.call("task.subscribe"), SHIM_TIMEOUT)
        except BaseException:
            await client.close()
            raise
        handle.closing = False
        self.shims[(ns, cid)] = handle
        return handle

    def _shim_lost(self, handle: ShimHandle) -> None:
        """The connection to a shim broke while we still had its task: the
        shim died (kill -9?) or ended. Its container goes with it, and its
        exit is reported, as after a restart."""
        key = (handle.namespace, handle.id)
        if handle.closing or self.shims.get(key) is not handle or key in self.busy:
            return  # ours to close, or a create or delete under way cleans up
        del self.shims[key]
        spawn(self._recover_logged(*key, known=True))

    def _spawn_shim(self, ns: str, cid: str, runtime: str = "") -> int:
        """runtime: another runc-compatible binary, or ours ("")."""
        tdir = self.task_dir(ns, cid)
        os.makedirs(os.path.dirname(self.shim_socket(ns, cid)), mode=0o711, exist_ok=True)
        args = ["--namespace", ns, "--id", cid, "--socket", self.shim_socket(ns, cid),
                "--state-dir", os.path.join(tdir, "shim")]
        if runtime:
            args += ["--runtime", runtime]
        log = os.path.join(tdir, "shim.log")
        if not self.use_zygote:
            return self._spawn_shim_directly(args, log)
        # forked from the zygote: shims share its pages, are not our children,
        # and are born in the root cgroups it was moved to
        return self.zygote.spawn(args, log)

    def _spawn_shim_directly(self, args: list, log_path: str) -> int:
        """A shim from a fresh process (kept for comparison and fallback)."""
        from busybox_engine.selfexec import personality_command
        path, prefix, env = personality_command("containerd-shim")
        argv = prefix + args
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            # its own session: not killed with containerd, not its terminal's
            pid = os.posix_spawn(path, argv, env if env is not None else os.environ, setsid=True,
                                 file_actions=[(os.POSIX_SPAWN_DUP2, null, 0),
                                               (os.POSIX_SPAWN_DUP2, null, 1),
                                               (os.POSIX_SPAWN_DUP2, log, 2)])
        finally:
            os.close(null)
            os.close(log)
        self._reap_when_done(pid)
        move_to_root(pid)
        return pid

    def _reap_when_done(self, pid: int) -> asyncio.Future:
        """A child of ours, reaped when it exits (watched through a pidfd);
        the future resolves then."""
        fd = os.pidfd_open(pid)
        exited = self.loop.create_future()

        def done():
            self.loop.remove_reader(fd)
            os.close(fd)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            if not exited.done():
                exited.set_result(None)
        self.loop.add_reader(fd, done)
        return exited

    def _shim(self, ns: str, cid: str) -> ShimHandle:
        handle = self.shims.get((ns, cid))
        if handle is None:
            raise NotFound(f"no task for container {cid!r}")
        return handle

    # --- RPC -----------------------------------------------------------------------

    async def create(self, container_id: str, namespace: str = "default", stdin: bool = False,
                     terminal: bool = False, log_path: str = "", log_max_size: int = 0,
                     log_max_files: int = 1, log_format: str = "json-file") -> dict:
        """A task of the container: its shim and the runtime's container,
        created, not started. log_path: its output in json-file format,
        rotated at log_max_size bytes keeping log_max_files files."""
        record = self.store.get("containers", namespace, container_id)
        key = (namespace, container_id)
        if self.has_task(namespace, container_id):
            raise FailedPrecondition(f"container {container_id!r} already has a task")
        tdir = self.task_dir(namespace, container_id)
        self.busy.add(key)
        try:
            os.makedirs(os.path.dirname(tdir), mode=0o711, exist_ok=True)
            try:
                os.mkdir(tdir, 0o711)
            except FileExistsError:
                raise FailedPrecondition(f"container {container_id!r}: a task directory is left over "
                                         f"(being cleaned up)") from None
            try:
                result = await self._create(record, namespace, container_id, tdir, stdin, terminal, log_path,
                                            log_max_size, log_max_files, log_format)
            except BaseException:
                # whatever was done is undone: shim, container, mount, directory
                await self._cleanup(namespace, container_id)
                raise
        finally:
            self.busy.discard(key)
        self.events.publish(namespace, "/tasks/create", {"container_id": container_id, "pid": result["pid"]})
        return result

    async def _create(self, record: dict, ns: str, cid: str, tdir: str, stdin: bool, terminal: bool,
                      log_path: str, log_max_size: int, log_max_files: int, log_format: str) -> dict:
        bundle = os.path.join(tdir, "bundle")
        os.mkdir(bundle, 0o711)
        spec = dict(record["spec"])
        if record.get("snapshot_key"):
            # not mounted twice: an upper dir under two overlays is undefined
            held = os.path.join(self.state_root, "mounts", ns, cid)
            if os.path.ismount(held):
                self.images.snapshots.unmount(held)
            rootfs = os.path.join(tdir, "rootfs")
            self.images.snapshots.mount(record["snapshot_key"], rootfs)
            spec["root"] = dict(spec.get("root") or {}, path=rootfs)
        elif record.get("rootfs"):
            spec["root"] = dict(spec.get("root") or {}, path=record["rootfs"])
        user = (spec.get("annotations") or {}).get(USER_ANNOTATION)
        if user:
            # a user by name: known only from the container's own /etc/passwd
            from busybox_engine.oci.users import resolve
            process = dict(spec["process"])
            extra = (process.get("user") or {}).get("additionalGids") or []
            try:
                process["user"] = resolve(spec["root"]["path"], user)
            except LookupError as e:
                raise InvalidArgument(str(e)) from None
            if extra:
                process["user"]["additionalGids"] = process["user"].get("additionalGids", []) + extra
            spec["process"] = process
        atomic_write(os.path.join(bundle, "config.json"), json.dumps(spec), durable=False)
        runtime = record.get("runtime") or ""
        self._spawn_shim(ns, cid, runtime if runtime.startswith("/") else "")
        handle = await self._connect(ns, cid)
        return await handle.client.call("task.create", bundle=bundle, stdin=stdin,
                                        terminal=terminal, log_path=log_path,
                                        log_max_size=log_max_size, log_max_files=log_max_files,
                                        log_format=log_format)

    async def _call(self, container_id: str, namespace: str, method: str, **params):
        return await self._shim(namespace, container_id).client.call(f"task.{method}", params)

    async def start(self, container_id: str, namespace: str = "default", exec_id: str = "") -> dict:
        r = await self._call(container_id, namespace, "start", exec_id=exec_id)
        if exec_id:
            self.events.publish(namespace, "/tasks/exec-started",
                                {"container_id": container_id, "exec_id": exec_id, "pid": r["pid"]})
        else:
            self.events.publish(namespace, "/tasks/start", {"container_id": container_id, "pid": r["pid"]})
        return r

    async def kill(self, container_id: str, namespace: str = "default", signal: int = 15,
                   all: bool = False, exec_id: str = "") -> None:
        await self._call(container_id, namespace, "kill", signal=signal, all=all, exec_id=exec_id)

    async def wait(self, container_id: str, namespace: str = "default", exec_id: str = "") -> dict:
        return await self._call(container_id, namespace, "wait", exec_id=exec_id)

    async def state(self, container_id: str, namespace: str = "default", exec_id: str = "") -> dict:
        return await self._call(container_id, namespace, "state", exec_id=exec_id)

    async def pids(self, container_id: str, namespace: str = "default") -> list:
        return await self._call(container_id, namespace, "pids")

    async def stats(self, container_id: str, namespace: str = "default") -> dict:
        return await self._call(container_id, namespace, "stats")

    async def pause(self, container_id: str, namespace: str = "default") -> None:
        await self._call(container_id, namespace, "pause")
        self.events.publish(namespace, "/tasks/paused", {"container_id": container_id})

    async def resume(self, container_id: str, namespace: str = "default") -> None:
        await self._call(container_id, namespace, "resume")
        self.events.publish(namespace, "/tasks/resumed", {"container_id": container_id})

    async def update(self, container_id: str, resources: dict, namespace: str = "default") -> None:
        """New cgroup limits for a task (runtime-spec linux.resources)."""
        await self._call(container_id, namespace, "update", resources=resources)

    async def exec(self, container_id: str, exec_id: str, process: dict, namespace: str = "default",
                   stdin: bool = False, terminal: bool = False) -> dict:
        """Add a process to the task (started by tasks.start with its exec_id,
        once its stdio is attached)."""
        return await self._call(container_id, namespace, "exec", exec_id=exec_id, process=process,
                                stdin=stdin, terminal=terminal)

    async def attach(self, container_id: str, namespace: str = "default", exec_id: str = "",
                     stdin: bool = False, stdout: bool = True, stderr: bool = True,
                     close_stdin: bool = False):
        """A byte stream of a process's output (and its input, with stdin):
        the reply passes the caller a socket connected to the task's shim
        (SCM_RIGHTS), so the bytes never go through containerd, and go on
        flowing whatever happens to it. Output is framed as Docker's attach
        streams without a terminal, raw with one; close_stdin: the caller's
        end of writing closes the process's stdin. Ask on a connection of
        its own: it is handed over with the reply."""
        from busybox_engine.rpc.server import HandOver
        result, shim_sock = await self.open_stream(container_id, namespace, exec_id, stdin, stdout, stderr,
                                                   close_stdin)

        def take(client, reply: bytes) -> None:
            import socket
            try:
                client.settimeout(SHIM_TIMEOUT)
                socket.send_fds(client, [reply], [shim_sock.fileno()])
            finally:
                client.close()
                shim_sock.close()
        return HandOver(result, take)

    async def open_stream(self, container_id: str, namespace: str = "default", exec_id: str = "",
                          stdin: bool = False, stdout: bool = True, stderr: bool = True,
                          close_stdin: bool = False) -> tuple:
        """(result, socket) of attach for a caller in this process: the
        socket is connected to the task's shim, framed as attach says."""
        self._shim(namespace, container_id)  # NotFound first
        params = {"exec_id": exec_id, "stdin": stdin, "stdout": stdout, "stderr": stderr,
                  "close_stdin": close_stdin}
        return await asyncio.wait_for(self._shim_stream(self.shim_socket(namespace, container_id), params),
                                      SHIM_TIMEOUT)

    async def _shim_stream(self, path: str, params: dict) -> tuple:
        """(result, socket): task.attach on a connection of its own, read up
        to the end of the reply and not a byte further (stream bytes may
        follow it at once)."""
        import socket
        import msgpack
        from busybox_engine.rpc.errors import from_wire
        from busybox_engine.rpc.protocol import REQUEST, RESPONSE, packb
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
        try:
            try:
                await self.loop.sock_connect(sock, path)
            except OSError as e:
                raise Unavailable(f"connect unix://{path}: {e.strerror or e}") from None
            await self.loop.sock_sendall(sock, packb([REQUEST, 1, "task.attach", params]))
            while True:
                readable = self.loop.create_future()
                self.loop.add_reader(sock.fileno(), lambda: readable.done() or readable.set_result(None))
                try:
                    await readable
                finally:
                    self.loop.remove_reader(sock.fileno())
                head = sock.recv(1 << 16, socket.MSG_PEEK)
                if not head:
                    raise Unavailable(f"unix://{path}: the shim closed the stream")
                unpacker = msgpack.Unpacker(raw=False)
                unpacker.feed(head)
                try:
                    msg = unpacker.unpack()
                except msgpack.OutOfData:
                    if len(head) >= 1 << 16:
                        raise Unavailable(f"unix://{path}: the shim's answer is too long") from None
                    await asyncio.sleep(0.001)  # the rest of the answer is on its way
                    continue
                sock.recv(unpacker.tell())  # exactly the answer: what follows is the stream's
                break
            if not (isinstance(msg, list) and len(msg) == 4 and msg[0] == RESPONSE):
                raise Unavailable(f"unix://{path}: not an answer: {msg!r:.100}")
            if msg[2] is not None:
                raise from_wire(msg[2])
            return msg[3], sock
        except BaseException:
            sock.close()
            raise

    async def reopen_log(self, container_id: str, namespace: str = "default") -> None:
        await self._call(container_id, namespace, "reopen_log")

    async def write_stdin(self, container_id: str, data: bytes, namespace: str = "default",
                          exec_id: str = "") -> int:
        return await self._call(container_id, namespace, "write_stdin", data=data, exec_id=exec_id)

    async def close_stdin(self, container_id: str, namespace: str = "default", exec_id: str = "") -> None:
        await self._call(container_id, namespace, "close_stdin", exec_id=exec_id)

    async def resize_pty(self, container_id: str, width: int, height: int, namespace: str = "default",
                         exec_id: str = "") -> None:
        await self._call(container_id, namespace, "resize_pty", width=width, height=height,
                         exec_id=exec_id)

    async def list(self, namespace: str = "default") -> list:
        handles = [h for (ns, _), h in sorted(self.shims.items()) if ns == namespace]
        states = await asyncio.gather(*(asyncio.wait_for(h.client.call("task.state"), SHIM_TIMEOUT)
                                        for h in handles), return_exceptions=True)
        return [s for s in states if isinstance(s, dict)]

    async def delete(self, container_id: str, namespace: str = "default", exec_id: str = "",
                     force: bool = False) -> dict:
        """Delete a stopped (or created) task, or an exec'd process; force:
        whatever state it is in (killed first), and whatever state its shim
        is in (a shim that does not answer is killed and cleaned up after)."""
        key = (namespace, container_id)
        if exec_id:
            return await self._call(container_id, namespace, "delete", exec_id=exec_id, force=force)
        handle = self.shims.get(key)
        if handle is None:
            if force and os.path.isdir(self.task_dir(namespace, container_id)) and key not in self.busy:
                # no shim we know of, but something on disk: clean it up
                return await self._recover_and_forget(namespace, container_id)
            raise NotFound(f"no task for container {container_id!r}")
        if key in self.busy:
            raise FailedPrecondition(f"task {container_id!r} is being created or deleted")
        self.busy.add(key)
        try:
            try:
                call = handle.client.call("task.delete", force=force)
                r = await (asyncio.wait_for(call, SHIM_TIMEOUT + 10) if force else call)
            except (Unavailable, asyncio.TimeoutError):
                if not force:
                    if self.shims.get(key) is handle:  # the shim is gone: as if lost
                        del self.shims[key]
                        spawn(self._recover_after(key))
                    raise
                r = self._exit_info(namespace, container_id)  # the shim is gone or hung
                await self._cleanup(namespace, container_id)
            else:
                await self._cleanup(namespace, container_id, deleted=True)
        finally:
            self.busy.discard(key)
        self.events.publish(namespace, "/tasks/delete", dict(r, container_id=container_id))
        self.trim_soon()
        return r

    async def _recover_after(self, key: tuple) -> None:
        while key in self.busy:  # the failed delete lets go first
            await asyncio.sleep(0.01)
        await self._recover_logged(*key, known=True)

    async def _recover_and_forget(self, ns: str, cid: str) -> dict:
        self.busy.add((ns, cid))
        try:
            info = self._exit_info(ns, cid)
            await self._cleanup(ns, cid)
        finally:
            self.busy.discard((ns, cid))
        return info

    # --- cleaning up -------------------------------------------------------------------

    def _shim_pid(self, ns: str, cid: str) -> int:
        """The shim's pid from its pid file, if that process still is it."""
        try:
            with open(os.path.join(self.task_dir(ns, cid), "shim", "shim.pid")) as f:
                pid, start = (int(x) for x in f.read().split())
            with open(f"/proc/{pid}/stat", "rb") as f:
                data = f.read()
            if int(data[data.rindex(b")") + 2:].split()[19]) == start:
                return pid
        except (OSError, ValueError):
            pass
        return 0

    def _exit_info(self, ns: str, cid: str) -> dict:
        try:
            with open(os.path.join(self.task_dir(ns, cid), "shim", "exit.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    async def _cleanup(self, ns: str, cid: str, deleted: bool = False) -> None:
        """Everything of a task goes: its shim (asked to stop, killed if it
        does not), its container (runc delete --force), the rootfs mount,
        the socket, the directory. deleted: the shim has deleted its
        container and is on its way out; it is not waited for (a watcher
        kills it if it lingers)."""
        handle = self.shims.pop((ns, cid), None)
        if handle is not None:
            handle.closing = True
            if not deleted:
                try:
                    await asyncio.wait_for(handle.client.call("task.shutdown"), SHIM_TIMEOUT)
                except Exception:  # noqa: BLE001 - gone already, or hung: killed below
                    pass
            await handle.client.close()
        pid = self._shim_pid(ns, cid)
        if pid and deleted:
            spawn(self._stop_shim(pid))
        elif pid:
            await self._stop_shim(pid)
        shim_dir = os.path.join(self.task_dir(ns, cid), "shim")
        runc_root = os.path.join(shim_dir, "runc")
        if os.path.isdir(runc_root) and os.listdir(runc_root):
            await self._force_delete(shim_dir, cid)  # a container the shim left
        for p in (self.shim_socket(ns, cid), self.shim_socket(ns, cid) + ".lock"):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        rootfs = os.path.join(self.task_dir(ns, cid), "rootfs")
        if self.images is not None and os.path.isdir(rootfs):
            self.images.snapshots.unmount(rootfs)
        shutil.rmtree(self.task_dir(ns, cid), ignore_errors=True)

    async def _stop_shim(self, pid: int) -> None:
        """Give a shim a moment to exit on its own (it was asked to), then
        SIGKILL it; wait until it is gone (it is not our child)."""
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        try:
            gone = self.loop.create_future()
            self.loop.add_reader(fd, lambda: gone.done() or gone.set_result(None))
            try:
                await asyncio.wait_for(asyncio.shield(gone), 1.0)
            except asyncio.TimeoutError:
                import signal
                signal.pidfd_send_signal(fd, signal.SIGKILL)
                await asyncio.wait_for(gone, 5.0)
            finally:
                self.loop.remove_reader(fd)
        except (ProcessLookupError, asyncio.TimeoutError):
            pass
        finally:
            os.close(fd)

    async def _force_delete(self, shim_dir: str, cid: str) -> None:
        """runc delete --force: the container dies with its shim (no orphans)."""
        from busybox_engine.selfexec import personality_command
        path, prefix, env = personality_command("runc")
        argv = prefix + ["--root", os.path.join(shim_dir, "runc"), "delete", "--force", cid]
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            pid = os.posix_spawn(path, argv, env if env is not None else os.environ,
                                 file_actions=[(os.POSIX_SPAWN_DUP2, null, 0),
                                               (os.POSIX_SPAWN_DUP2, null, 1)])
        finally:
            os.close(null)
        await self._reap_when_done(pid)

    # --- recovery --------------------------------------------------------------------

    def trim_soon(self) -> None:
        """Once things are quiet for a second, give the C heap's free pages
        back: a burst of creates and deletes leaves them in the middle of
        the heap, where glibc keeps them."""
        if self._trim is None:
            self._trim = self.loop.call_later(1.0, self._trim_now)

    def _trim_now(self) -> None:
        from busybox_engine.core_pyx import linux
        self._trim = None
        if self.busy:
            self.trim_soon()
        else:
            linux.malloc_trim()

    async def recover(self) -> dict:
        """Find every task on disk again, all at once: reconnect to live
        shims, clean up after dead or hung ones. One bad task never stops
        the others (or containerd's start): its error is logged."""
        found = []
        tasks_root = os.path.join(self.state_root, "tasks")
        for ns in sorted(os.listdir(tasks_root)) if os.path.isdir(tasks_root) else []:
            for cid in sorted(os.listdir(os.path.join(tasks_root, ns))):
                found.append((ns, cid))
        results = await asyncio.gather(*(self._recover_logged(ns, cid) for ns, cid in found))
        self.trim_soon()
        return {"reconnected": sum(1 for r in results if r), "cleaned": sum(1 for r in results if not r)}

    async def _recover_logged(self, ns: str, cid: str, known: bool = False) -> bool:
        try:
            return await self._recover_one(ns, cid, known)
        except Exception as e:  # noqa: BLE001 - logged; the task is left for `tasks rm -f`
            sys.stderr.write(f"containerd: recover task {ns}/{cid}: {type(e).__name__}: {e}\n")
            return False

    async def _recover_one(self, ns: str, cid: str, known: bool = False) -> bool:
        """True if the task is ours again; False if it was cleaned up (and
        its exit told, if it had a container: known says it had)."""
        key = (ns, cid)
        if key in self.busy or key in self.shims:
            return key in self.shims
        self.busy.add(key)
        try:
            handle = None
            try:
                handle = await self._connect(ns, cid, timeout=0)
                state = await self._settled_state(handle)
            except (Unavailable, asyncio.TimeoutError, RPCError, OSError):
                state = None
            if state is not None and state.get("status") in ("created", "running", "paused", "stopped"):
                return True
            # no shim, a hung one, or one without a container (its create
            # was cut off): it all goes, and the exit is told if there was one
            info = self._exit_info(ns, cid)
            had_init = known or bool(info) or bool(state and state.get("pid")) or os.path.exists(
                os.path.join(self.task_dir(ns, cid), "shim", "init.pid"))
            await self._cleanup(ns, cid)
            if had_init:
                self.events.publish(ns, "/tasks/exit", dict(info, container_id=cid,
                                                            exit_status=info.get("exit_status", 255)))
            return False
        finally:
            self.busy.discard(key)

    async def _settled_state(self, handle: ShimHandle) -> dict:
        """The task's state once no create is under way in its shim."""
        deadline = self.loop.time() + SETTLE_TIMEOUT
        while True:
            state = await asyncio.wait_for(handle.client.call("task.state"), SHIM_TIMEOUT)
            if state.get("status") != "creating" or self.loop.time() > deadline:
                return state
            await asyncio.sleep(0.05)
