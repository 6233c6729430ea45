"""dockerd without --containerd: it starts our containerd personality
itself and starts it again if it dies, as dockerd does with its
containerd. A containerd already serving at the address (left running by
a dockerd that was killed) is used as it is."""
import asyncio
import os
import signal
import socket
import sys


def _serving(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


class OwnContainerd:
    def __init__(self, data_root: str, exec_root: str, registries: dict | None = None):
        self.registries = registries or {}   # insecure-registries, registry-mirrors
        self.state = os.path.join(exec_root, "containerd")
        self.root = os.path.join(data_root, "containerd")
        self.address = os.path.join(self.state, "containerd.sock")
        self.pid = 0
        self.task = None
        self.stopping = False

    def _write_registries(self) -> None:
        import json
        from busybox_engine.util.atomicfile import atomic_write
        atomic_write(os.path.join(self.state, "registries.json"), json.dumps(self.registries), durable=False)

    def reload_registries(self, registries: dict) -> None:
        """New insecure registries and mirrors: containerd rereads them on SIGHUP."""
        self.registries = registries
        self._write_registries()
        if self.pid:
            import signal
            try:
                os.kill(self.pid, signal.SIGHUP)
            except ProcessLookupError:
                pass   # restarting: it reads the file as it starts

    def start(self) -> None:
        os.makedirs(self.state, mode=0o711, exist_ok=True)
        self.task = asyncio.get_running_loop().create_task(self._supervise())

    def _spawn(self) -> int:
        """Our containerd personality in a session of its own (a ctrl-c
        of dockerd's terminal is not its); its pid. posix_spawn, not
        asyncio's subprocesses: uvloop's gives argv[0] the executable's
        path, and the single binary picks its personality by argv[0]."""
        from busybox_engine.selfexec import personality_command
        path, prefix, env = personality_command("containerd")
        self._write_registries()
        extra = ["--registry-config", os.path.join(self.state, "registries.json")]
        argv = prefix + ["--address", self.address, "--root", self.root, "--state", self.state, *extra]
        null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        log = os.open(os.path.join(self.state, "containerd.log"),
                      os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            return os.posix_spawn(path, argv, env if env is not None else os.environ, setsid=True,
                                  file_actions=[(os.POSIX_SPAWN_DUP2, null, 0),
                                                (os.POSIX_SPAWN_DUP2, log, 1),
                                                (os.POSIX_SPAWN_DUP2, log, 2)])
        finally:
            os.close(null)
            os.close(log)

    async def _wait(self, pid: int) -> int:
        """Its exit status, once it has exited (watched through a pidfd)."""
        loop = asyncio.get_running_loop()
        fd = os.pidfd_open(pid)
        gone = loop.create_future()
        loop.add_reader(fd, lambda: gone.done() or gone.set_result(None))
        try:
            await gone
        finally:
            loop.remove_reader(fd)
            os.close(fd)
        from busybox_engine.util.procs import exit_code
        return exit_code(os.waitpid(pid, 0)[1])

    async def _supervise(self) -> None:
        delay = 0.1
        while not self.stopping:
            if _serving(self.address):
                # one left by an earlier dockerd: use it, and watch it
                await asyncio.sleep(1)
                continue
            self.pid = self._spawn()
            rc = await self._wait(self.pid)
            self.pid = 0
            if self.stopping:
                return
            sys.stderr.write(f"dockerd: containerd exited ({rc}); starting it again\n")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def stop(self) -> None:
        self.stopping = True
        pid = self.pid
        if self.task is not None and pid:
            os.kill(pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self.task), 15)
            except asyncio.TimeoutError:
                os.kill(pid, signal.SIGKILL)
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        if self.task is not None and not self.task.done():
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
