"""The blocking msgpack-RPC client, for CLIs and tests (the daemons' is
aclient.AsyncClient; this module stays free of asyncio, and of msgpack:
rpc.minipack reads and writes, for start-up's sake).

It raises the closed error set: a server that is down or goes away is
Unavailable naming the socket, a server-side error is its RPCError class.
"""
import itertools

# the C socket type, not socket.py: that pulls in enum and selectors, some
# ms on every ctr/docker command for nothing this client uses
import _socket


from busybox_engine.rpc import minipack, protocol
from busybox_engine.rpc.errors import Unavailable, from_wire
from busybox_engine.rpc.minipack import packb
from busybox_engine.rpc.protocol import NOTIFICATION, REQUEST, RESPONSE


def _close(fd: int) -> None:
    import os
    os.close(fd)


def open_stream(path: str, method: str, params: dict, timeout: float | None = None) -> tuple:
    """(result, socket): a byte stream handed over by the server at path
    (a call on a connection of its own whose reply passes the stream's
    socket, as tasks.attach does)."""
    with Client(path, timeout) as c:
        result, fds = c.call_with_fds(method, params)
    if len(fds) != 1:
        for fd in fds:
            _close(fd)
        raise Unavailable(f"unix://{path}: {method}: no stream came with the reply")
    return result, _socket.socket(fileno=fds[0])


def request_stream(path: str, method: str, params: dict, timeout: float | None = None) -> tuple:
    """(result, socket): a call on a connection of its own that then is the
    stream (the server hands it over with the reply, as the shim's
    task.attach does). The reply is read to its last byte and not a byte
    further: what follows is the stream's."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(path)
            sock.sendall(packb([REQUEST, 1, method, params]))
            while True:
                head = sock.recv(1 << 16, _socket.MSG_PEEK)
                if not head:
                    raise Unavailable(f"unix://{path}: connection closed")
                unpacker = minipack.Unpacker()
                unpacker.feed(head)
                try:
                    msg = unpacker.unpack()
                    break
                except minipack.OutOfData:
                    if len(head) >= 1 << 16:
                        raise Unavailable(f"unix://{path}: reply too long") from None
                    import time
                    time.sleep(0.001)
            sock.recv(unpacker.tell())
        except OSError as e:
            raise _unavailable(path, e) from None
        if msg[2] is not None:
            raise from_wire(msg[2])
        return msg[3], sock
    except BaseException:
        sock.close()
        raise


def _unavailable(path: str, e: OSError) -> Unavailable:
    return Unavailable(f"connect unix://{path}: {e.strerror or e}")


class Client:
    """A blocking client over one socket, for command-line tools and tests.

    Notifications that arrive while waiting for a reply are kept in
    `notifications` in arrival order.
    """

    def __init__(self, path: str, timeout: float | None = None):
        self.path = path
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as e:
            self.sock.close()
            raise _unavailable(path, e) from None
        self.unpacker = minipack.Unpacker(protocol.buffer_size())
        self._ids = itertools.count(1)
        self._results = {}
        self.notifications = []

    def send(self, method: str, params: dict | None = None) -> int:
        """Send a request without waiting; `wait(msgid)` collects the result."""
        msgid = next(self._ids)
        self._sendall(packb([REQUEST, msgid, method, params or {}]))
        return msgid

    def wait(self, msgid: int, on_notification=None):
        """The result of request msgid. With on_notification, each
        notification that comes first is handed to it (method, params)
        instead of being kept."""
        while True:
            while on_notification and self.notifications:
                on_notification(*self.notifications.pop(0))
            if msgid in self._results:
                break
            self.receive()
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
            self.receive()
        return self.notifications.pop(0)

    def _sendall(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Unavailable(f"unix://{self.path}: {e.strerror or e}") from None

    def answered(self, msgid: int) -> bool:
        """Has request msgid's result come (wait() then returns at once)?"""
        return msgid in self._results

    def receive(self, fds: list | None = None) -> None:
        """Read what the socket has (blocking until something): results are
        kept for wait(), notifications in `notifications`. With fds, file
        descriptors passed along (SCM_RIGHTS) are appended to it."""
        try:
            if fds is None:
                data = self.sock.recv(262144)
            else:
                data, ancdata, _, _ = self.sock.recvmsg(262144, _socket.CMSG_SPACE(4 * 8),
                                                        _socket.MSG_CMSG_CLOEXEC)
                for level, kind, raw in ancdata:
                    if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                        usable = len(raw) - len(raw) % 4
                        fds.extend(memoryview(raw)[:usable].cast("i"))
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

    def call_with_fds(self, method: str, params: dict | None = None) -> tuple:
        """(result, [fds]): a call whose reply passes file descriptors."""
        msgid = self.send(method, params)
        fds = []
        try:
            while msgid not in self._results:
                self.receive(fds)
            return self.wait(msgid), fds
        except BaseException:
            for fd in fds:
                _close(fd)
            raise

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
