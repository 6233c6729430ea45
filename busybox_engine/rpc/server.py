"""The msgpack-RPC server: asyncio on a unix socket.

Requests are answered as soon as they are done, so many can be in flight on
one connection; a coroutine handler runs as its own task. Whatever a peer
sends, the server answers with an error or drops that one connection: it
never dies of it.
"""
import asyncio
import os
import socket
import sys
import traceback

import msgpack

from busybox_engine.rpc import protocol
from busybox_engine.rpc.errors import Internal, InvalidArgument, RPCError
from busybox_engine.rpc.methods import Registry
from busybox_engine.rpc.protocol import (NOTIFICATION, REQUEST, Malformed,
                                         packb)


class Connection(asyncio.Protocol):
    """One client connection; `notify` sends it a notification."""

    def __init__(self, server: "Server"):
        self.server = server
        self.registry = server.registry
        self.max_message = server.max_message
        self.unpacker = protocol.new_unpacker(server.max_message)
        self.transport = None
        self.tasks = set()
        self.closed = asyncio.get_running_loop().create_future()
        self._offset = 0   # stream offset where the last message ended
        self._fed = 0      # bytes received in all

    # asyncio.Protocol

    def connection_made(self, transport):
        self.transport = transport
        self.server.connections.add(self)

    def connection_lost(self, exc):
        self.server.connections.discard(self)
        for task in self.tasks:
            task.cancel()
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self):
        # The client does not read its replies: stop reading its requests.
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()

    def data_received(self, data):
        try:
            self.unpacker.feed(data)
            self._fed += len(data)
            for msg in self.unpacker:
                end = self.unpacker.tell()
                size, self._offset = end - self._offset, end
                if size > self.max_message:
                    raise Malformed(f"message of {size} bytes exceeds "
                                    f"the limit of {self.max_message}")
                self._dispatch(msg)
            if self._fed - self._offset > self.max_message:
                raise Malformed(f"incomplete message exceeds the limit of "
                                f"{self.max_message} bytes")
        except msgpack.BufferFull:
            self._drop(f"message exceeds the limit of {self.max_message} bytes")
        except (Malformed, ValueError, TypeError, msgpack.UnpackException) as e:
            self._drop(str(e) or type(e).__name__)

    # requests

    def _dispatch(self, msg):
        if not isinstance(msg, (list, tuple)) or not msg:
            raise Malformed("message is not a msgpack-RPC array")
        kind = msg[0]
        if kind == REQUEST and len(msg) == 4 and type(msg[1]) is int:
            self._request(msg[1], msg[2], msg[3])
        elif kind == NOTIFICATION and len(msg) == 3:
            self._request(None, msg[1], msg[2])
        elif len(msg) == 4 and type(msg[1]) is int:
            self._reply(msg[1], InvalidArgument(f"unexpected message type {kind!r}"), None)
        else:
            raise Malformed("message is not a msgpack-RPC request or notification")

    def _request(self, msgid, name, params):
        try:
            method = self.registry.lookup(name)
            kwargs = method.bind(params)
            if method.wants_conn:
                kwargs = dict(kwargs, _conn=self)
            result = method.fn(**kwargs)
        except Exception as e:  # noqa: BLE001 - every failure becomes a reply
            self._reply(msgid, e, None)
            return
        if hasattr(result, "__await__"):
            task = asyncio.ensure_future(self._finish(msgid, result))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        else:
            self._reply(msgid, None, result)

    async def _finish(self, msgid, awaitable):
        try:
            result = await awaitable
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001
            self._reply(msgid, e, None)
        else:
            self._reply(msgid, None, result)

    def _reply(self, msgid, error, result):
        if msgid is None or self.transport.is_closing():
            return
        if error is not None:
            if not isinstance(error, RPCError):
                traceback.print_exception(error, file=sys.stderr)
                error = Internal(f"{type(error).__name__}: {error}")
            payload = packb([1, msgid, error.to_wire(), None])
        else:
            try:
                payload = packb([1, msgid, None, result])
            except (TypeError, ValueError, OverflowError) as e:
                payload = packb([1, msgid, Internal(f"result not serialisable: {e}").to_wire(), None])
        self.transport.write(payload)

    def _drop(self, why: str):
        sys.stderr.write(f"rpc: dropping connection: {why}\n")
        self.transport.abort()

    # server -> client

    def notify(self, method: str, params) -> None:
        if not self.transport.is_closing():
            self.transport.write(packb([NOTIFICATION, method, params]))


def bind_unix(path: str, mode: int = 0o600, backlog: int = 1024) -> socket.socket:
    """A listening socket at path with mode set before anyone can connect.

    Nothing can connect between bind and listen, so chmod in between leaves
    no window with the umask's mode.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.bind(path)
        os.chmod(path, mode)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class Server:
    def __init__(self, registry: Registry, *, max_message: int = protocol.MAX_MESSAGE):
        self.registry = registry
        self.max_message = max_message
        self.connections = set()
        self._server = None
        self.path = None

    async def start(self, path: str, mode: int = 0o600) -> None:
        """Listen at path (which must not exist: see daemon.lock)."""
        sock = bind_unix(path, mode)
        self.path = path
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(lambda: Connection(self), sock=sock)

    def broadcast(self, method: str, params) -> None:
        for conn in list(self.connections):
            conn.notify(method, params)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for conn in list(self.connections):
                conn.transport.close()
            await self._server.wait_closed()
            self._server = None
        if self.path:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.path = None
