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
        self.proc = None
        self.task = None
        self.stopping = False

    def start(self) -> None:
        os.makedirs(self.state, mode=0o711, exist_ok=True)
        self.task = asyncio.get_running_loop().create_task(self._supervise())

    async def _spawn(self):
        from busybox_engine.selfexec import personality_command
        path, prefix, env = personality_command("containerd")
        log = open(os.path.join(self.state, "containerd.log"), "ab")
        extra = []
        if self.registries:
            import json
            from busybox_engine.util.atomicfile import atomic_write
            path = os.path.join(self.state, "registries.json")
            atomic_write(path, json.dumps(self.registries), durable=False)
            extra = ["--registry-config", path]
        try:
            return await asyncio.create_subprocess_exec(
                *prefix,
                "--address", self.address, "--root", self.root, "--state", self.state, *extra,
                executable=path, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                env=env, start_new_session=True)
        finally:
            log.close()

    async def _supervise(self) -> None:
        delay = 0.1
        while not self.stopping:
            if _serving(self.address):
                # one left by an earlier dockerd: use it, and watch it
                await asyncio.sleep(1)
                continue
            self.proc = await self._spawn()
            rc = await self.proc.wait()
            if self.stopping:
                return
            sys.stderr.write(f"dockerd: containerd exited ({rc}); starting it again\n")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def stop(self) -> None:
        self.stopping = True
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
