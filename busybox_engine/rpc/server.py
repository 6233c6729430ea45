"""The msgpack-RPC server: asyncio on a unix socket.

Requests are answered as soon as they are done, so many can be in flight on
one connection; a coroutine handler runs as its own task. Whatever a peer
sends, the server answers with an error or drops that one connection: it
never dies of it.

Memory is bounded whatever peers do: one message may not exceed
max_message; the bytes of incomplete messages, summed over all connections,
may not exceed max_pending (the connection adding to them past it is
dropped), and a message must complete within partial_timeout seconds of its
first byte. A client that does not read its replies is not read from
(back-pressure); notifications that may be dropped (events, progress) are
dropped for a connection with more than max_buffered bytes unsent.

A handler may return HandOver(result, take): the reply then goes out on the
raw socket and the connection leaves the RPC server, as a byte stream of
whoever take(sock, reply) gives it to (attach streams; see tasks.attach).
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


class HandOver:
    """A handler's result whose connection leaves the RPC server once it is
    answered: take(sock, reply) gets the raw socket and the reply's bytes,
    and owns both from then on."""

    def __init__(self, result, take):
        self.result = result
        self.take = take


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
        self._pending = 0  # bytes of an incomplete message, counted in server.pending
        self._partial_timer = None
        self.dropped = 0   # droppable notifications not sent (a slow reader)

    # asyncio.Protocol

    def connection_made(self, transport):
        self.transport = transport
        self.server.connections.add(self)
        if self.server.on_connection is not None:
            self.server.on_connection(+1)

    def connection_lost(self, exc):
        self.server.connections.discard(self)
        self._set_pending(0)
        if self.server.on_connection is not None:
            self.server.on_connection(-1)
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
            self._set_pending(self._fed - self._offset)
            if self._pending and self.server.pending > self.server.max_pending:
                raise Malformed(f"incomplete messages of all clients exceed "
                                f"{self.server.max_pending} bytes")
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
            self._reply(msgid, e, None, name)
            return
        if hasattr(result, "__await__"):
            task = asyncio.ensure_future(self._finish(msgid, name, result))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif isinstance(result, HandOver):
            self._hand_over(msgid, result)
        else:
            self._reply(msgid, None, result)

    async def _finish(self, msgid, name, awaitable):
        try:
            result = await awaitable
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001
            self._reply(msgid, e, None, name)
        else:
            if isinstance(result, HandOver):
                self._hand_over(msgid, result)
            else:
                self._reply(msgid, None, result)

    def _reply(self, msgid, error, result, name=""):
        if msgid is None or self.transport.is_closing():
            return
        if error is not None:
            if isinstance(error, OSError) and not isinstance(error, RPCError):
                # the system said no (a full disk, a missing file): one line
                # for the client and the log, no traceback
                text = describe_oserror(error)
                sys.stderr.write(f"rpc: {name}: {text}\n")
                error = Internal(text)
            elif not isinstance(error, RPCError):
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
        self._set_pending(0)
        self.transport.abort()

    def _set_pending(self, n: int) -> None:
        """Account for the bytes of an incomplete message; one that has not
        completed within partial_timeout drops the connection."""
        self.server.pending += n - self._pending
        self._pending = n
        if n and self._partial_timer is None:
            self._partial_timer = asyncio.get_running_loop().call_later(
                self.server.partial_timeout, self._partial_expired, self._offset)
        elif not n and self._partial_timer is not None:
            self._partial_timer.cancel()
            self._partial_timer = None

    def _partial_expired(self, offset: int) -> None:
        self._partial_timer = None
        if self._pending and self._offset == offset:
            self._drop(f"a message incomplete after {self.server.partial_timeout:g} s")
        elif self._pending:  # a later message is under way: give it its own time
            self._partial_timer = asyncio.get_running_loop().call_later(
                self.server.partial_timeout, self._partial_expired, self._offset)

    def _hand_over(self, msgid, handover: HandOver) -> None:
        """Give the raw socket away after the reply (see HandOver)."""
        if self.transport.is_closing():
            return
        if self._fed != self._offset or self.transport.get_write_buffer_size():
            # bytes after the request would be lost to the new owner
            self._reply(msgid, InvalidArgument("a stream request must be the last message sent"), None)
            self.transport.close()
            return
        import socket
        fd = os.dup(self.transport.get_extra_info("socket").fileno())
        self.transport.abort()  # closes its fd; the socket lives on in ours
        sock = socket.socket(fileno=fd)
        try:
            reply = packb([1, msgid, None, handover.result])
            handover.take(sock, reply)
        except Exception as e:  # noqa: BLE001 - the peer sees the connection close
            sys.stderr.write(f"rpc: hand-over failed: {type(e).__name__}: {e}\n")
            sock.close()

    # server -> client

    def notify(self, method: str, params, droppable: bool = False) -> bool:
        """Send a notification; False if it was not sent (the connection is
        closing, or droppable and its reader is too slow)."""
        if self.transport.is_closing():
            return False
        if droppable and self.transport.get_write_buffer_size() > self.server.max_buffered:
            self.dropped += 1
            return False
        self.transport.write(packb([NOTIFICATION, method, params]))
        return True


def describe_oserror(e: OSError) -> str:
    text = e.strerror or str(e)
    return f"{e.filename}: {text}" if e.filename else text


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
    def __init__(self, registry: Registry, *, max_message: int = protocol.MAX_MESSAGE,
                 max_pending: int = protocol.MAX_PENDING, partial_timeout: float = protocol.PARTIAL_TIMEOUT,
                 max_buffered: int = protocol.MAX_BUFFERED, on_connection=None):
        self.registry = registry
        self.on_connection = on_connection  # called with +1 and -1 as clients come and go
        self.max_message = max_message
        self.max_pending = max_pending
        self.partial_timeout = partial_timeout
        self.max_buffered = max_buffered
        self.pending = 0   # bytes of incomplete messages, all connections
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
