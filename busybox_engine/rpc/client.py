"""msgpack-RPC clients: AsyncClient for the daemons, Client for CLIs/tests.

Both raise the closed error set: a server that is down or goes away is
Unavailable naming the socket, a server-side error is its RPCError class.
"""
import asyncio
import itertools
import socket

import msgpack

from busybox_engine.rpc import protocol
from busybox_engine.rpc.errors import Unavailable, from_wire
from busybox_engine.rpc.protocol import NOTIFICATION, REQUEST, RESPONSE, packb


def _unavailable(path: str, e: OSError) -> Unavailable:
    return Unavailable(f"connect unix://{path}: {e.strerror or e}")


class _ClientProtocol(asyncio.Protocol):
    def __init__(self, client: "AsyncClient"):
        self.client = client
        self.unpacker = protocol.new_unpacker()

    def connection_made(self, transport):
        self.client._transport = transport

    def data_received(self, data):
        client = self.client
        try:
            self.unpacker.feed(data)
            for msg in self.unpacker:
                client._received(msg)
        except (ValueError, TypeError, IndexError, msgpack.UnpackException,
                msgpack.BufferFull) as e:
            client._fail(Unavailable(f"unix://{client.path}: malformed reply: {e}"))
            client._transport.abort()

    def connection_lost(self, exc):
        self.client._fail(Unavailable(f"unix://{self.client.path}: connection closed"))


class AsyncClient:
    """Many calls in flight on one connection; notifications to a callback
    (or the `notifications` queue when none is given)."""

    def __init__(self, path: str, on_notification=None, on_close=None):
        self.path = path
        self.on_close = on_close
        self._transport = None
        self._pending = {}
        self._ids = itertools.count(1)
        self._closed_error = None
        self.on_notification = on_notification
        self.notifications = asyncio.Queue() if on_notification is None else None

    @classmethod
    async def connect(cls, path: str, on_notification=None, on_close=None) -> "AsyncClient":
        """on_close(error) runs once when the connection goes away."""
        client = cls(path, on_notification, on_close)
        loop = asyncio.get_running_loop()
        try:
            await loop.create_unix_connection(lambda: _ClientProtocol(client), path)
        except OSError as e:
            raise _unavailable(path, e) from None
        return client

    def _received(self, msg):
        if msg[0] == RESPONSE:
            fut = self._pending.pop(msg[1], None)
            if fut is not None and not fut.done():
                if msg[2] is not None:
                    fut.set_exception(from_wire(msg[2]))
                else:
                    fut.set_result(msg[3])
        elif msg[0] == NOTIFICATION:
            if self.on_notification is not None:
                self.on_notification(msg[1], msg[2])
            else:
                self.notifications.put_nowait((msg[1], msg[2]))

    def _fail(self, error: Exception):
        first = self._closed_error is None
        if first:
            self._closed_error = error
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(error)
        if self.notifications is not None:
            self.notifications.put_nowait(None)  # wakes a reader: stream ended
        if first and self.on_close is not None:
            self.on_close(error)

    def call_soon(self, method: str, params: dict | None = None) -> asyncio.Future:
        """Send a request now; the future resolves with its result."""
        if self._closed_error is not None:
            raise self._closed_error
        msgid = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[msgid] = fut
        self._transport.write(packb([REQUEST, msgid, method, params or {}]))
        return fut

    async def call(self, method: str, params: dict | None = None, **kwargs):
        if kwargs:
            params = dict(params or {}, **kwargs)
        return await self.call_soon(method, params)

    def notify(self, method: str, params: dict | None = None) -> None:
        if self._closed_error is not None:
            raise self._closed_error
        self._transport.write(packb([NOTIFICATION, method, params or {}]))

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()


class Client:
    """A blocking client over one socket, for command-line tools and tests.

    Notifications that arrive while waiting for a reply are kept in
    `notifications` in arrival order.
    """

    def __init__(self, path: str, timeout: float | None = None):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as e:
            self.sock.close()
            raise _unavailable(path, e) from None
        self.unpacker = protocol.new_unpacker()
        self._ids = itertools.count(1)
        self._results = {}
        self.notifications = []

    def send(self, method: str, params: dict | None = None) -> int:
        """Send a request without waiting; `wait(msgid)` collects the result."""
        msgid = next(self._ids)
        self._sendall(packb([REQUEST, msgid, method, params or {}]))
        return msgid

    def wait(self, msgid: int):
        while msgid not in self._results:
            self._read()
        error, result = self._results.pop(msgid)
        if error is not None:
            raise from_wire(error)
        return result

    def call(self, method: str, params: dict | None = None, **kwargs):
        if kwargs:
            params = dict(params or {}, **kwargs)
        return self.wait(self.send(method, params))

    def notify(self, method: str, params: dict | None = None) -> None:
        self._sendall(packb([NOTIFICATION, method, params or {}]))

    def next_notification(self):
        """Block until a notification arrives; (method, params)."""
        while not self.notifications:
            self._read()
        return self.notifications.pop(0)

    def _sendall(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Unavailable(f"unix://{self.path}: {e.strerror or e}") from None

    def _read(self) -> None:
        try:
            data = self.sock.recv(262144)
        except OSError as e:
            raise Unavailable(f"unix://{self.path}: {e.strerror or e}") from None
        if not data:
            raise Unavailable(f"unix://{self.path}: connection closed")
        self.unpacker.feed(data)
        for msg in self.unpacker:
            if msg[0] == RESPONSE:
                self._results[msg[1]] = (msg[2], msg[3])
            elif msg[0] == NOTIFICATION:
                self.notifications.append((msg[1], msg[2]))

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
