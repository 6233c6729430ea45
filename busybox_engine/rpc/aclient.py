"""The asyncio msgpack-RPC client, for the daemons (containerd to its shims,
dockerd to containerd). CLIs use the blocking client.Client, which does not
import asyncio: it starts on every `docker`/`ctr` command."""
import asyncio
import itertools

import msgpack

from busybox_engine.rpc import protocol
from busybox_engine.rpc.client import _unavailable
from busybox_engine.rpc.errors import Unavailable, from_wire
from busybox_engine.rpc.protocol import NOTIFICATION, REQUEST, RESPONSE, packb


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
