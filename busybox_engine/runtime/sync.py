"""Parent <-> container init messages: one JSON object a line, over a pair
of pipes. The init reports `ready` or an `error` with its message; the
parent answers `go` (maps written, cgroup joined, hooks run)."""
import os

from busybox_engine.util import fastjson as json


def pair() -> tuple:
    """(parent's Channel, child's Channel); close the other side's after fork."""
    p2c_r, p2c_w = os.pipe2(os.O_CLOEXEC)
    c2p_r, c2p_w = os.pipe2(os.O_CLOEXEC)
    return Channel(c2p_r, p2c_w), Channel(p2c_r, c2p_w)


class Channel:
    def __init__(self, rfd: int, wfd: int):
        self.fd = rfd
        self.wfd = wfd
        self.buf = b""

    @property
    def fds(self) -> tuple:
        return (self.fd, self.wfd)

    def send(self, kind: str, **fields) -> None:
        os.write(self.wfd, json.dumps(dict(fields, type=kind)).encode() + b"\n")

    def recv(self) -> dict | None:
        """The next message, or None when the other side has gone."""
        while b"\n" not in self.buf:
            try:
                chunk = os.read(self.fd, 65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def expect(self, kind: str) -> dict:
        msg = self.recv()
        if msg is None:
            raise EOFError(f"sync: peer went away waiting for {kind}")
        if msg.get("type") == "error":
            raise ChildError(msg.get("message", "unknown error"))
        if msg.get("type") != kind:
            raise EOFError(f"sync: expected {kind}, got {msg.get('type')}")
        return msg

    def close(self) -> None:
        for fd in (self.fd, self.wfd):
            if fd >= 0:
                os.close(fd)
        self.fd = self.wfd = -1


class ChildError(Exception):
    pass
