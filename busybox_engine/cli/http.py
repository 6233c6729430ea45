"""A minimal HTTP/1.1 client over a unix socket for the docker CLI.

http.client drags in email parsing and more at import; every `docker run`
starts the client, so it speaks the little HTTP it needs itself.
"""
import _socket   # not socket.py: its enum conversions cost every docker command milliseconds

from busybox_engine.cli import fastjson as json


class ConnectError(Exception):
    pass


class HTTPResponse:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body
        self.chunks = None

    def json(self):
        return json.loads(self.body) if self.body else None

    def error_message(self) -> str:
        try:
            return self.json()["message"]
        except (ValueError, TypeError, KeyError):
            return self.body.decode(errors="replace").strip()


class UnixHTTPClient:
    """HTTP/1.1 to the daemon: a unix socket path ("unix://PATH" or PATH),
    or "tcp://HOST:PORT", with tls = {ca, cert, key, verify} for TLS."""

    def __init__(self, path: str, timeout: float | None = None, tls: dict | None = None):
        self.path = path[len("unix://"):] if path.startswith("unix://") else path
        self.timeout = timeout
        self.tls = tls
        self.sock = None
        self.buf = b""

    def _connect(self):
        if self.path.startswith("tcp://"):
            self.sock = self._connect_tcp(self.path[len("tcp://"):])
            return
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError as e:
            sock.close()
            raise ConnectError(str(e)) from None
        self.sock = sock

    def _connect_tcp(self, address: str):
        import socket   # the rare remote daemon: socket.py and ssl are worth their import here
        host, _, port = address.rstrip("/").rpartition(":")
        host = host.strip("[]") or "localhost"
        try:
            sock = socket.create_connection((host, int(port or 2375)), timeout=self.timeout)
        except (OSError, ValueError) as e:
            raise ConnectError(str(e)) from None
        if not self.tls:
            return sock
        import ssl
        t = self.tls
        if t.get("verify"):
            ctx = ssl.create_default_context(cafile=t.get("ca") or None)
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        try:
            if t.get("cert") and t.get("key"):
                ctx.load_cert_chain(t["cert"], t["key"])
            return ctx.wrap_socket(sock, server_hostname=host)
        except (OSError, ssl.SSLError) as e:
            sock.close()
            raise ConnectError(str(e)) from None

    def request(self, method: str, path: str, body=None, headers: dict | None = None,
                send_only: bool = False) -> HTTPResponse:
        if self.sock is None:
            self._connect()
        hdrs = {"Host": "docker", "User-Agent": "busybox-engine-cli"}
        data = b""
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs["Content-Length"] = str(len(data))
        hdrs.update(headers or {})
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
        self.sock.sendall(head.encode("latin-1") + b"\r\n" + data)
        if send_only:
            return None    # read_response() reads it later
        if headers and headers.get("Upgrade"):
            resp = self.read_head()
            if resp.status >= 400 and "content-length" in resp.headers:
                resp.body = self._read_exact(int(resp.headers["content-length"]))
            return resp
        return self._read_response(method)

    def read_head(self) -> HTTPResponse:
        """Only the status line and headers (an upgraded stream follows:
        what came with them stays in .buf)."""
        head = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return HTTPResponse(int(head[0].split(" ", 2)[1]), headers, b"")

    def read_response(self, method: str = "GET") -> HTTPResponse:
        """The response to a request sent earlier."""
        return self._read_response(method)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectError("connection closed by the daemon")
        self.buf += chunk

    def _read_until(self, sep: bytes) -> bytes:
        while sep not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(sep, 1)
        return line

    def _read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read_response(self, method: str, stream: bool = False) -> HTTPResponse:
        resp = self.read_head()
        if method == "HEAD" or resp.status in (204, 304):
            chunks = iter(())
        else:
            chunks = self._body(resp.headers)
        if stream and resp.status < 400:
            resp.chunks = chunks      # read as it comes (logs -f, events, pull)
            return resp
        resp.body = b"".join(chunks)
        return resp

    def _body(self, headers: dict):
        """The body's pieces as they arrive."""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self._read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self._read_until(b"\r\n")
                    break
                while size:
                    if not self.buf:
                        self._fill()
                    piece = self.buf[:size]
                    self.buf = self.buf[len(piece):]
                    size -= len(piece)
                    yield piece
                self._read_exact(2)
        elif "content-length" in headers:
            left = int(headers["content-length"])
            while left:
                if not self.buf:
                    self._fill()
                piece = self.buf[:left]
                self.buf = self.buf[len(piece):]
                left -= len(piece)
                yield piece
        else:
            while True:
                if self.buf:
                    piece, self.buf = self.buf, b""
                    yield piece
                try:
                    self._fill()
                except ConnectError:
                    break
        if headers.get("connection", "").lower() == "close":
            self.close()

    def stream(self, method: str, path: str, body=None, headers: dict | None = None) -> HTTPResponse:
        """A request whose body is read as it comes: resp.chunks (an error
        status is read whole into resp.body)."""
        self.request(method, path, body=body, headers=headers, send_only=True)
        return self._read_response(method, stream=True)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
