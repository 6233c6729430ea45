"""containerd's tasks service.

A task is one container's processes, run by its own shim. containerd
starts the shim detached (own session), talks to it over msgpack-RPC, and
passes its exits on as events. Nothing here owns a container: containerd
can be killed and restarted, and recover() finds the shims again from
their sockets on disk.
"""
import asyncio
import json
import os
import shutil

from busybox_engine.rpc.aclient import AsyncClient
from busybox_engine.daemon.background import spawn
from busybox_engine.rpc.errors import FailedPrecondition, NotFound, Unavailable
from busybox_engine.containerd.services.events import Events
from busybox_engine.containerd.store import Store
from busybox_engine.runtime.cgroups.hierarchy import move_to_root


class ShimHandle:
    def __init__(self, namespace: str, cid: str, client: AsyncClient, pid: int = 0):
        self.namespace = namespace
        self.id = cid
        self.client = client
        self.pid = pid
        self.closing = False  # set when we close it ourselves: not a lost shim


class Tasks:
    def __init__(self, state: str, store: Store, events: Events, images=None):
        self.images = images
        self.state_root = state
        self.store = store
        self.events = events
        self.shims = {}      # (namespace, id) -> ShimHandle
        from busybox_engine.shim.zygote import Zygote
        self.zygote = Zygote()
        self.use_zygote = os.environ.get("BUSYBOX_ENGINE_SHIM_ZYGOTE", "1") != "0"
        self.attached = {}   # (namespace, id) -> connections that get its io and exits
        self.loop = asyncio.get_running_loop()

    # --- where things live ---------------------------------------------------------

    def task_dir(self, ns: str, cid: str) -> str:
        return os.path.join(self.state_root, ns, cid)

    def shim_socket(self, ns: str, cid: str) -> str:
        return os.path.join(self.state_root, "shims", ns, f"{cid}.sock")

    # --- shims ---------------------------------------------------------------------

    def _on_shim_event(self, ns: str, cid: str):
        def handler(method: str, params: dict) -> None:
            for conn in list(self.attached.get((ns, cid), ())):
                conn.notify(method, dict(params, container_id=cid))
            if method == "task.exit":
                topic = "/tasks/exit" if not params.get("exec_id") else "/tasks/exec-exit"
                self.events.publish(ns, topic, dict(params, container_id=cid))
        return handler

    async def _connect(self, ns: str, cid: str, pid: int = 0, timeout: float = 10) -> ShimHandle:
        sock = self.shim_socket(ns, cid)
        deadline = self.loop.time() + timeout
        delay = 0.0005  # a new shim listens within a few ms: look often, then less
        while True:
            try:
                client = await AsyncClient.connect(sock, on_notification=self._on_shim_event(ns, cid),
                                                   on_close=lambda _e: self._shim_lost(ns, cid))
                break
            except Unavailable:
                if self.loop.time() > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.02)
        await client.call("task.attach")
        handle = ShimHandle(ns, cid, client, pid)
        self.shims[(ns, cid)] = handle
        return handle

    def _shim_lost(self, ns: str, cid: str) -> None:
        """The connection to a shim broke while we still had its task: the
        shim died (kill -9?). Its container goes with it, and its exit is
        reported, as after a restart."""
        handle = self.shims.get((ns, cid))
        if handle is None or handle.closing:
            return
        del self.shims[(ns, cid)]
        self.attached.pop((ns, cid), None)
        spawn(self._recover_one(ns, cid))

    def _spawn_shim(self, ns: str, cid: str) -> int:
        tdir = self.task_dir(ns, cid)
        os.makedirs(os.path.dirname(self.shim_socket(ns, cid)), mode=0o711, exist_ok=True)
        args = ["--namespace", ns, "--id", cid, "--socket", self.shim_socket(ns, cid),
                "--state-dir", os.path.join(tdir, "shim")]
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
                     terminal: bool = False, log_path: str = "") -> dict:
        record = self.store.get("containers", namespace, container_id)
        if (namespace, container_id) in self.shims:
            raise FailedPrecondition(f"container {container_id!r} already has a task")
        tdir = self.task_dir(namespace, container_id)
        bundle = os.path.join(tdir, "bundle")
        os.makedirs(bundle, mode=0o711, exist_ok=True)
        spec = dict(record["spec"])
        if record.get("snapshot_key"):
            rootfs = os.path.join(tdir, "rootfs")
            self.images.snapshots.mount(record["snapshot_key"], rootfs)
            spec["root"] = dict(spec.get("root") or {}, path=rootfs)
        elif record.get("rootfs"):
            spec["root"] = dict(spec.get("root") or {}, path=record["rootfs"])
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(spec, f)
        pid = self._spawn_shim(namespace, container_id)
        try:
            handle = await self._connect(namespace, container_id, pid)
            result = await handle.client.call("task.create", bundle=bundle, stdin=stdin,
                                              terminal=terminal, log_path=log_path)
        except BaseException:
            await self._forget(namespace, container_id, shutdown=True)
            raise
        self.events.publish(namespace, "/tasks/create", {"container_id": container_id, "pid": result["pid"]})
        return result

    async def _call(self, container_id: str, namespace: str, method: str, **params):
        return await self._shim(namespace, container_id).client.call(f"task.{method}", params)

    async def start(self, container_id: str, namespace: str = "default") -> dict:
        r = await self._call(container_id, namespace, "start")
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

    async def exec(self, container_id: str, exec_id: str, process: dict, namespace: str = "default",
                   stdin: bool = False, terminal: bool = False) -> dict:
        r = await self._call(container_id, namespace, "exec", exec_id=exec_id, process=process,
                             stdin=stdin, terminal=terminal)
        self.events.publish(namespace, "/tasks/exec-started",
                            {"container_id": container_id, "exec_id": exec_id, "pid": r["pid"]})
        return r

    async def attach(self, container_id: str, namespace: str = "default", *, _conn) -> dict:
        """This connection gets the task's output (`io`) and exits (`task.exit`)."""
        state = await self._call(container_id, namespace, "state")
        conns = self.attached.setdefault((namespace, container_id), set())
        conns.add(_conn)
        _conn.closed.add_done_callback(lambda _: conns.discard(_conn))
        return state

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
        states = await asyncio.gather(*(h.client.call("task.state") for h in handles),
                                      return_exceptions=True)
        return [s for s in states if isinstance(s, dict)]

    async def delete(self, container_id: str, namespace: str = "default", exec_id: str = "") -> dict:
        r = await self._call(container_id, namespace, "delete", exec_id=exec_id)
        if not exec_id:
            await self._forget(namespace, container_id)
            self.events.publish(namespace, "/tasks/delete", dict(r, container_id=container_id))
        return r

    async def _forget(self, ns: str, cid: str, shutdown: bool = False) -> None:
        self.attached.pop((ns, cid), None)
        handle = self.shims.pop((ns, cid), None)
        if handle is not None:
            handle.closing = True
            if shutdown:
                try:
                    await handle.client.call("task.shutdown")
                except Exception:  # noqa: BLE001 - it may be gone already
                    pass
            await handle.client.close()
        self._unmount_rootfs(ns, cid)
        shutil.rmtree(self.task_dir(ns, cid), ignore_errors=True)

    def _unmount_rootfs(self, ns: str, cid: str) -> None:
        rootfs = os.path.join(self.task_dir(ns, cid), "rootfs")
        if self.images is not None and os.path.isdir(rootfs):
            self.images.snapshots.unmount(rootfs)

    # --- recovery --------------------------------------------------------------------

    async def recover(self) -> dict:
        """Reconnect to every shim found on disk, in parallel; clean up after
        those whose shim is gone, reporting their container's exit."""
        found = []
        shims_root = os.path.join(self.state_root, "shims")
        for ns in sorted(os.listdir(shims_root)) if os.path.isdir(shims_root) else []:
            for name in sorted(os.listdir(os.path.join(shims_root, ns))):
                if name.endswith(".sock"):
                    found.append((ns, name[:-5]))
        results = await asyncio.gather(*(self._recover_one(ns, cid) for ns, cid in found))
        return {"reconnected": sum(1 for r in results if r), "cleaned": sum(1 for r in results if not r)}

    async def _recover_one(self, ns: str, cid: str) -> bool:
        try:
            await self._connect(ns, cid, timeout=0)
            return True
        except Unavailable:
            pass
        # the shim died: its container's exit is on disk (or it died with it)
        shim_dir = os.path.join(self.task_dir(ns, cid), "shim")
        exit_info = {}
        try:
            with open(os.path.join(shim_dir, "exit.json")) as f:
                exit_info = json.load(f)
        except (OSError, ValueError):
            pass
        await self._force_delete(shim_dir, cid)
        for p in (self.shim_socket(ns, cid), self.shim_socket(ns, cid) + ".lock"):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        self._unmount_rootfs(ns, cid)
        shutil.rmtree(self.task_dir(ns, cid), ignore_errors=True)
        self.events.publish(ns, "/tasks/exit", dict(exit_info, container_id=cid,
                                                    exit_status=exit_info.get("exit_status", 255)))
        return False

    async def _force_delete(self, shim_dir: str, cid: str) -> None:
        """runc delete --force: the container dies with its shim (no orphans)."""
        from busybox_engine.selfexec import personality_command
        path, prefix, env = personality_command("runc")
        argv = prefix + ["--root", os.path.join(shim_dir, "runc"), "delete", "--force", cid]
        pid = os.posix_spawn(path, argv, env if env is not None else os.environ)
        await self._reap_when_done(pid)
