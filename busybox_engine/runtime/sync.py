"""Parent <-> container init messages: one JSON object a line on a
socketpair. The init reports `ready` or an `error` with its message; the
parent answers `go` (maps written, cgroup joined, hooks run)."""
import json
import os


class Channel:
    def __init__(self, fd: int):
        self.fd = fd
        self.buf = b""

    def send(self, kind: str, **fields) -> None:
        os.write(self.fd, json.dumps(dict(fields, type=kind)).encode() + b"\n")

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
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class ChildError(Exception):
    pass
