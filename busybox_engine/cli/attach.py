"""A hijacked attach stream: the container's output to our stdout and
stderr (demultiplexed without a TTY), our stdin to it, a terminal in raw
mode with its size sent along, detach keys seen on our side as the
docker CLI sees them."""
import os
import select
import signal
import sys

from busybox_engine.cli.api import DaemonError
from busybox_engine.cli.http import UnixHTTPClient

DEFAULT_DETACH = "ctrl-p,ctrl-q"


def parse_detach_keys(spec: str) -> bytes:
    """"ctrl-p,ctrl-q" -> b"\\x10\\x11"; a plain character is itself."""
    out = bytearray()
    for key in spec.split(","):
        k = key.strip()
        if len(k) == 1:
            out.append(ord(k))
        elif k.lower().startswith("ctrl-") and len(k) == 6:
            c = k[5]
            if "a" <= c.lower() <= "z":
                out.append(ord(c.lower()) - ord("a") + 1)
            elif c in "@[\\]^_":
                out.append({"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}[c])
            else:
                raise ValueError(f"Unknown character: '{c}'")
        else:
            raise ValueError(f"Unknown character: '{k}'")
    return bytes(out)


class Attachment:
    def __init__(self, host: str, cid: str, tty: bool, stdin: bool, stdout: bool, stderr: bool,
                 detach_keys: str | None = None, api_version: str = "1.41", tls: dict | None = None):
        self.host = host
        self.cid = cid
        self.tty = tty
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.detach_keys = detach_keys
        self.api_version = api_version
        self.tls = tls
        self.http = None

    def open(self) -> None:
        query = (f"stream=1&stdin={int(self.stdin)}&stdout={int(self.stdout)}&stderr={int(self.stderr)}")
        if self.detach_keys:
            query += f"&detachKeys={self.detach_keys}"
        self._hijack(f"/containers/{self.cid}/attach?{query}")

    def open_exec(self, exec_id: str) -> None:
        """POST /exec/{id}/start, hijacked."""
        self._hijack(f"/exec/{exec_id}/start", body={"Detach": False, "Tty": self.tty})

    def _hijack(self, path: str, body=None) -> None:
        self.http = UnixHTTPClient(self.host, tls=self.tls)
        resp = self.http.request("POST", f"/v{self.api_version}{path}", body=body,
                                 headers={"Upgrade": "tcp", "Connection": "Upgrade"})
        if resp.status >= 400:
            raise DaemonError(resp.status, resp.error_message())

    def close(self) -> None:
        if self.http is not None:
            self.http.close()

    def pump(self, resize=None, nudge: bool = False) -> bool:
        """Copy both ways until the container's output ends; True when the
        user detached. nudge (attach): the size sent one bigger first, as
        the docker CLI does, so the shell redraws its prompt."""
        sock = self.http.sock
        sock.settimeout(None)
        pending = self.http.buf
        self.http.buf = b""
        keys = parse_detach_keys(self.detach_keys or DEFAULT_DETACH) if self.tty else b""
        restore = None
        old_winch = None
        if self.tty and self.stdin and os.isatty(0):
            import termios
            import tty
            restore = termios.tcgetattr(0)
            tty.setraw(0, termios.TCSANOW)   # not TCSAFLUSH: keep what was typed ahead, as Go's MakeRaw
        if self.tty and resize is not None and os.isatty(1):
            def send_size(*_):
                try:
                    cols, rows = os.get_terminal_size(1)
                except OSError:
                    return
                resize(rows, cols)
            if nudge:
                try:
                    cols, rows = os.get_terminal_size(1)
                    resize(rows + 1, cols + 1)
                except OSError:
                    pass
            send_size()
            old_winch = signal.signal(signal.SIGWINCH, send_size)
        poll = select.poll()
        sock_fd = sock.fileno()
        poll.register(sock_fd, select.POLLIN)
        watching_stdin = self.stdin
        if watching_stdin:
            poll.register(0, select.POLLIN)
        demux = _Demux() if not self.tty else None
        held = b""      # the start of a detach sequence, not sent yet
        detached = False
        try:
            if pending:
                self._output(pending, demux)
            open_out = True
            while open_out:
                try:
                    events = poll.poll()
                except InterruptedError:
                    continue
                for fd, _ev in events:
                    if fd == sock_fd:
                        try:
                            data = sock.recv(65536)
                        except ConnectionResetError:
                            data = b""
                        if not data:
                            open_out = False
                            break
                        self._output(data, demux)
                    elif watching_stdin:
                        try:
                            data = os.read(0, 32768)
                        except OSError:
                            data = b""
                        if not data:
                            poll.unregister(0)
                            watching_stdin = False
                            _close_write(sock)
                            continue
                        if keys:
                            data, held, detached = _escape(held + data, keys)
                        if data:
                            try:
                                sock.sendall(data)
                            except OSError:
                                poll.unregister(0)
                                watching_stdin = False
                        if detached:
                            open_out = False
                            break
        finally:
            if restore is not None:
                import termios
                termios.tcsetattr(0, termios.TCSADRAIN, restore)
            if old_winch is not None:
                signal.signal(signal.SIGWINCH, old_winch)
            self.close()
        return detached

    def _output(self, data: bytes, demux) -> None:
        if demux is None:
            _write_all(1, data)
            return
        for fd, chunk in demux.feed(data):
            _write_all(fd, chunk)


def ask_wait(ctx, name: str, condition: str = ""):
    """POST /containers/NAME/wait sent now on its own connection, its
    answer read later (waiter.http.read_response): asked before a start or
    while attached, it cannot miss the exit."""
    from busybox_engine.cli.api import API
    waiter = API(ctx.host, ctx.tls)
    waiter.version = ctx.api.version
    query = f"?condition={condition}" if condition else ""
    waiter.http.request("POST", f"/v{waiter.version}/containers/{name}/wait{query}", send_only=True)
    return waiter


def _close_write(sock) -> None:
    """EOF to the container's stdin, its output still to come: SHUT_WR, or
    over TLS a close_notify alone (as Go's CloseWrite), the socket kept."""
    if hasattr(sock, "unwrap"):
        sock.setblocking(False)
        try:
            sock.unwrap()           # sends close_notify; the peer's is not waited for
        except OSError:
            pass
        sock.setblocking(True)
        return
    try:
        sock.shutdown(1)
    except OSError:
        pass


def _escape(data: bytes, keys: bytes):
    """(bytes to send, bytes held back, detached?): the docker CLI's escape
    proxy; a partial sequence is held until it completes or breaks."""
    out = bytearray()
    i = 0
    while i < len(data):
        j = 0
        while j < len(keys) and i + j < len(data) and data[i + j] == keys[j]:
            j += 1
        if j == len(keys):
            return bytes(out), b"", True
        if i + j == len(data) and j > 0:
            return bytes(out), data[i:], False
        out.append(data[i])
        i += 1
    return bytes(out), b"", False


class _Demux:
    """The 8-byte-header frames of a non-TTY stream -> (fd, bytes)."""

    def __init__(self):
        self.buf = b""

    def feed(self, data: bytes):
        self.buf += data
        out = []
        while len(self.buf) >= 8:
            size = int.from_bytes(self.buf[4:8], "big")
            if len(self.buf) < 8 + size:
                break
            kind = self.buf[0]
            out.append((2 if kind == 2 else 1, self.buf[8:8 + size]))
            self.buf = self.buf[8 + size:]
        return out


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BrokenPipeError:
            return
        view = view[n:]
    if fd == 1:
        sys.stdout.flush()
