"""The blocking msgpack-RPC client, for CLIs and tests (the daemons' is
aclient.AsyncClient; this module stays free of asyncio for start-up's sake).

It raises the closed error set: a server that is down or goes away is
Unavailable naming the socket, a server-side error is its RPCError class.
"""
import itertools

# the C socket type, not socket.py: that pulls in enum and selectors, some
# ms on every ctr/docker command for nothing this client uses
import _socket


from busybox_engine.rpc import protocol
from busybox_engine.rpc.errors import Unavailable, from_wire
from busybox_engine.rpc.protocol import NOTIFICATION, REQUEST, RESPONSE, packb


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
        self.unpacker = protocol.new_unpacker()
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

    def receive(self) -> None:
        """Read what the socket has (blocking until something): results are
        kept for wait(), notifications in `notifications`."""
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
