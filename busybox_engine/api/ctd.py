"""dockerd's one long-lived client of containerd.

It reconnects whenever containerd goes away (killed, restarted, upgraded)
and subscribes to its events again each time; a call made meanwhile waits
for the connection (up to RETRY seconds) instead of failing, so restarting
containerd under dockerd costs no API call.
"""
import asyncio
import socket
import sys

from busybox_engine.rpc.aclient import AsyncClient
from busybox_engine.rpc.errors import Unavailable, from_wire
from busybox_engine.rpc.protocol import REQUEST, RESPONSE, packb

NAMESPACE = "moby"   # where dockerd's containers and images live, as Docker's do
RETRY = 10.0


class Containerd:
    def __init__(self, path: str, on_event=None, on_connect=None):
        self.path = path
        self.on_event = on_event        # (topic, event) of our namespace
        self.on_connect = on_connect    # coroutine fn, after each (re)connection
        self.client = None
        self.connected = asyncio.Event()
        self.closing = False
        self.task = None
        self.loop = asyncio.get_running_loop()
        self.listeners = {}             # notification method -> callbacks (pull/push progress)

    def listen(self, method: str, callback):
        """callback(params) for each `method` notification until the
        returned function is called."""
        self.listeners.setdefault(method, set()).add(callback)
        return lambda: self.listeners.get(method, set()).discard(callback)

    def start(self) -> None:
        self.task = self.loop.create_task(self._maintain())

    async def close(self) -> None:
        self.closing = True
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        if self.client is not None:
            await self.client.close()

    def _notified(self, method: str, params) -> None:
        for cb in list(self.listeners.get(method, ())):
            try:
                cb(params)
            except Exception as e:  # noqa: BLE001
                sys.stderr.write(f"dockerd: handling {method}: {e!r}\n")
        if method == "event" and isinstance(params, dict) and params.get("namespace") == NAMESPACE:
            if self.on_event is not None:
                try:
                    self.on_event(params.get("topic", ""), params.get("event") or {})
                except Exception as e:  # noqa: BLE001 - a bad event never breaks the link
                    sys.stderr.write(f"dockerd: handling containerd event: {e!r}\n")

    async def _maintain(self) -> None:
        delay = 0.01
        warned = False
        while not self.closing:
            lost = self.loop.create_future()
            try:
                client = await AsyncClient.connect(
                    self.path, on_notification=self._notified,
                    on_close=lambda e: lost.done() or lost.set_result(e))
                await client.call("events.subscribe")
            except Unavailable as e:
                if not warned:
                    sys.stderr.write(f"dockerd: containerd not reachable ({e}); retrying\n")
                    warned = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.25)
                continue
            delay, warned = 0.01, False
            self.client = client
            self.connected.set()
            if self.on_connect is not None:
                try:
                    await self.on_connect()
                except Exception as e:  # noqa: BLE001
                    sys.stderr.write(f"dockerd: after connecting to containerd: {e!r}\n")
            await lost
            self.connected.clear()
            self.client = None
            if not self.closing:
                sys.stderr.write("dockerd: lost containerd; reconnecting\n")

    async def _ready(self, deadline: float) -> AsyncClient:
        while self.client is None:
            left = deadline - self.loop.time()
            if left <= 0:
                raise Unavailable(f"containerd at unix://{self.path} is not available")
            try:
                await asyncio.wait_for(self.connected.wait(), left)
            except asyncio.TimeoutError:
                pass
        return self.client

    async def call(self, method: str, **params):
        """params are the method's; the namespace is ours unless given."""
        if method.split(".")[0] in ("containers", "tasks", "images") and "namespace" not in params:
            params["namespace"] = NAMESPACE
        deadline = self.loop.time() + RETRY
        while True:
            client = await self._ready(deadline)
            try:
                return await client.call(method, params)
            except Unavailable:
                # the connection still up: that is containerd's own answer
                if client._closed_error is None or self.loop.time() > deadline:
                    raise
                await asyncio.sleep(0.02)

    async def open_stream(self, method: str, **params) -> socket.socket:
        """A byte stream handed over with the reply of `method` (the socket
        of tasks.attach, connected to the task's shim); non-blocking."""
        params.setdefault("namespace", NAMESPACE)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
        try:
            try:
                await self.loop.sock_connect(sock, self.path)
            except OSError as e:
                raise Unavailable(f"connect unix://{self.path}: {e.strerror or e}") from None
            await self.loop.sock_sendall(sock, packb([REQUEST, 1, method, params]))
            import msgpack
            unpacker = msgpack.Unpacker(raw=False)
            fds = []
            while True:
                readable = self.loop.create_future()
                self.loop.add_reader(sock.fileno(), lambda: readable.done() or readable.set_result(None))
                try:
                    await readable
                finally:
                    self.loop.remove_reader(sock.fileno())
                try:
                    data, got, _flags, _addr = socket.recv_fds(sock, 1 << 16, 4)
                except BlockingIOError:
                    continue
                fds += got
                if not data:
                    raise Unavailable(f"unix://{self.path}: {method}: connection closed")
                unpacker.feed(data)
                try:
                    msg = unpacker.unpack()
                    break
                except msgpack.OutOfData:
                    continue
            if not (isinstance(msg, list) and len(msg) == 4 and msg[0] == RESPONSE):
                raise Unavailable(f"unix://{self.path}: not an answer")
            if msg[2] is not None:
                raise from_wire(msg[2])
            if len(fds) != 1:
                raise Unavailable(f"unix://{self.path}: {method}: no stream came with the reply")
            stream = socket.socket(fileno=fds.pop())
            stream.setblocking(False)
            return stream
        finally:
            sock.close()
            for fd in fds:
                import os
                os.close(fd)
