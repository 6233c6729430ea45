"""HTTP/1.1 for the Engine API: an asyncio Protocol around httptools (llhttp).

What the Engine API needs beyond request/response: keep-alive and pipelined
requests (served in order), request bodies streamed to the handler with
back-pressure (image load, archive PUT), chunked streamed responses (pull
progress, events, logs -f) and hijacked connections for attach and exec
(`101 UPGRADED`, then raw bytes both ways with half-close). A handler runs
as soon as a request's headers are in; `await req.read_body()` gets the
whole body when it wants it.

Slow clients are bounded: a request's headers must arrive within
HEADER_TIMEOUT of its first byte, a body may not stall for BODY_TIMEOUT,
and an idle keep-alive connection is closed after IDLE_TIMEOUT. Errors are
Docker's shape: {"message": "..."}.
"""
import asyncio
import json
import re
import sys
import traceback
from urllib.parse import parse_qs, unquote

import httptools

from busybox_engine.rpc.errors import InvalidArgument, NotFound, RPCError

MAX_HEADER = 64 * 1024          # all of a request's headers
MAX_BODY = 64 * 1024 * 1024     # what read_body() gathers; stream past it with read()
HEADER_TIMEOUT = 30.0
BODY_TIMEOUT = 60.0
IDLE_TIMEOUT = 120.0
READ_HIGH = 1 << 20             # buffered body bytes that pause reading
REASONS = {101: "UPGRADED", 200: "OK", 201: "Created", 204: "No Content",
           304: "Not Modified", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           408: "Request Timeout", 409: "Conflict", 413: "Payload Too Large",
           431: "Request Header Fields Too Large", 500: "Internal Server Error",
           501: "Not Implemented", 503: "Service Unavailable"}


class HTTPError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Response:
    __slots__ = ("status", "body", "content_type", "headers")

    def __init__(self, status: int = 200, body: bytes = b"",
                 content_type: str = "application/json", headers: dict | None = None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


def json_response(obj, status: int = 200, headers: dict | None = None) -> Response:
    return Response(status, json.dumps(obj).encode() + b"\n", headers=headers)


def error_response(status: int, message: str) -> Response:
    return json_response({"message": message}, status)


# what a handler may return when it has written its response itself
STREAMED = object()


class Request:
    """One request; its body arrives while the handler runs."""

    __slots__ = ("method", "path", "query", "headers", "params", "api_version", "conn",
                 "upgrade", "keep_alive", "_chunks", "_buffered", "_eof", "_waiter",
                 "_discard", "responded", "route")

    def __init__(self, conn: "HTTPConnection", method: str, url: bytes, headers: dict,
                 keep_alive: bool, upgrade: bool):
        parsed = httptools.parse_url(url)
        self.method = method
        path = parsed.path.decode("latin-1") if parsed.path else "/"
        self.path = unquote(path) if "%" in path else path
        q = parsed.query.decode("latin-1") if parsed.query else ""
        self.query = parse_qs(q, keep_blank_values=True) if q else {}
        self.headers = headers
        self.params = {}
        self.api_version = None
        self.conn = conn
        self.keep_alive = keep_alive
        self.upgrade = upgrade
        self._chunks = []
        self._buffered = 0
        self._eof = False
        self._waiter = None
        self._discard = False
        self.responded = False
        self.route = None   # (handler, params) once matched

    # --- query --------------------------------------------------------------------

    def arg(self, name: str, default=None):
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query parameter as Docker reads them ("1", "true", ...)."""
        value = self.arg(name)
        if value is None:
            return default
        return value.lower() not in ("", "0", "false", "no", "off")

    def int_arg(self, name: str, default: int = 0) -> int:
        value = self.arg(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except ValueError:
            raise InvalidArgument(f"invalid value for {name}: {value!r}") from None

    def json_arg(self, name: str, default=None):
        value = self.arg(name)
        if not value:
            return default
        try:
            return json.loads(value)
        except ValueError:
            raise InvalidArgument(f"invalid {name} parameter: not JSON: {value!r:.100}") from None

    # --- body ---------------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        if self._discard:
            return
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > READ_HIGH:
            self.conn.pause_reading()
        self._wake()

    def _feed_eof(self) -> None:
        self._eof = True
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def read(self) -> bytes:
        """The next piece of the body, b"" at its end."""
        while not self._chunks:
            if self._eof:
                return b""
            if self.conn.closed:
                raise ConnectionError("client went away")
            self._waiter = self.conn.loop.create_future()
            try:
                await asyncio.wait_for(self._waiter, BODY_TIMEOUT)
            except asyncio.TimeoutError:
                self.conn.abort()
                raise HTTPError(408, "timed out reading the request body") from None
            finally:
                self._waiter = None
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        self.conn.resume_reading()
        return data

    async def read_body(self, limit: int = MAX_BODY) -> bytes:
        parts, size = [], 0
        while True:
            data = await self.read()
            if not data:
                return b"".join(parts)
            size += len(data)
            if size > limit:
                raise HTTPError(413, "request body too large")
            parts.append(data)

    async def json(self, default=None):
        """The body as JSON; `default` when there is none. Docker's words
        for a body that is not JSON."""
        body = await self.read_body()
        if not body.strip():
            return default
        try:
            return json.loads(body)
        except ValueError as e:
            raise InvalidArgument(f"invalid JSON: {e}") from None
        except RecursionError:
            raise InvalidArgument("invalid JSON: nested too deeply") from None

    def discard_body(self) -> None:
        self._discard = True
        self._chunks.clear()
        self._buffered = 0
        self.conn.resume_reading()

    # --- responding ourselves ---------------------------------------------------------

    async def stream(self, status: int = 200, content_type: str = "application/json",
                     headers: dict | None = None) -> "ChunkedWriter":
        """Start a chunked response; write to it, then end() it."""
        self.responded = True
        self.conn.write_head(status, {"Content-Type": content_type,
                                      "Transfer-Encoding": "chunked", **(headers or {})},
                             keep_alive=self.keep_alive)
        return ChunkedWriter(self.conn)

    def hijack(self, content_type: str = "application/vnd.docker.raw-stream") -> "RawStream":
        """Take the connection over for raw bytes both ways (attach, exec)."""
        self.responded = True
        self.keep_alive = False
        conn = self.conn
        if self.upgrade:
            conn.write_head(101, {"Content-Type": content_type, "Connection": "Upgrade",
                                  "Upgrade": "tcp"}, keep_alive=True, close_header=False)
        else:
            conn.write_head(200, {"Content-Type": content_type}, keep_alive=True,
                            close_header=False)
        return conn.go_raw(self)

    async def disconnected(self) -> None:
        """Returns when the client has gone away."""
        await self.conn.lost


class ChunkedWriter:
    def __init__(self, conn: "HTTPConnection"):
        self.conn = conn

    async def write(self, data: bytes) -> None:
        if data:
            self.conn.write(b"%x\r\n%b\r\n" % (len(data), data))
            await self.conn.drain()

    async def end(self) -> None:
        self.conn.write(b"0\r\n\r\n")
        await self.conn.drain()


class RawStream:
    """A hijacked connection: what the client sends, and writing back.
    The client's end of writing (half-close) is read() returning b""."""

    def __init__(self, conn: "HTTPConnection"):
        self.conn = conn
        self.sink = None   # set_sink: data_received goes straight there

    def set_sink(self, on_data, on_eof, pause_source=None, resume_source=None) -> None:
        """Pass the client's bytes to on_data as they come (and on_eof at
        its half-close); pause_source/resume_source follow our writing
        side's flow control, so a slow client slows the other end."""
        self.conn.raw_sink = (on_data, on_eof, pause_source, resume_source)
        pending, self.conn.raw_pending = self.conn.raw_pending, []
        for data in pending:
            if data is None:
                on_eof()
            else:
                on_data(data)

    def write(self, data: bytes) -> None:
        self.conn.write(data)

    async def drain(self) -> None:
        await self.conn.drain()

    def close_write(self) -> None:
        t = self.conn.transport
        if t is not None and not t.is_closing() and t.can_write_eof():
            t.write_eof()

    def close(self) -> None:
        self.conn.close()

    @property
    def closed(self) -> bool:
        return self.conn.closed


class Router:
    """(method, path pattern) -> handler; `{name}` matches one path segment,
    `{name:.*}` anything (image names have slashes)."""

    def __init__(self):
        self.exact = {}
        self.routes = []
        self.sync = set()   # handlers that never wait: answered without a task

    def add(self, method: str, pattern: str, handler) -> None:
        if not asyncio.iscoroutinefunction(handler):
            self.sync.add(handler)
        if "{" not in pattern:
            self.exact[(method, pattern)] = handler
            return
        regex = re.sub(r"\{(\w+)(?::([^}]+))?\}",
                       lambda m: f"(?P<{m.group(1)}>{m.group(2) or '[^/]+'})", pattern)
        self.routes.append((method, re.compile(f"^{regex}$"), handler))

    def match(self, method: str, path: str):
        for m in (method, "GET") if method == "HEAD" else (method,):
            handler = self.exact.get((m, path))
            if handler is not None:
                return handler, {}
        known = False
        for m, regex, handler in self.routes:
            found = regex.match(path)
            if found:
                if m == method or (method == "HEAD" and m == "GET"):
                    return handler, found.groupdict()
                known = True
        if known or any(p == path for _m, p in self.exact):
            raise HTTPError(405, "method not allowed")
        raise NotFound("page not found")


class HTTPServer:
    """Serve a Router; `prepare(req)` may reject a request (API version
    checks) and `default_headers` go on every response."""

    def __init__(self, router: Router, prepare=None, default_headers=None):
        self.router = router
        self.prepare = prepare
        head = "".join(f"{k}: {v}\r\n" for k, v in (default_headers or {}).items())
        self.default_head = head.encode("latin-1")
        self.connections = set()
        self.heads = {}   # (status, content type, keep-alive) -> response head less its length

    def protocol(self) -> "HTTPConnection":
        return HTTPConnection(self)

    def close_all(self) -> None:
        for c in list(self.connections):
            c.abort()

    def _route(self, req: Request):
        if req.route is None:
            if self.prepare is not None:
                self.prepare(req)
            req.route = self.router.match(req.method, req.path)
            req.params = req.route[1]
        return req.route[0]

    def try_sync(self, req: Request):
        """The response of a request whose handler never waits (or whose
        path or version is refused), made here and now; None when the
        handler must run as a task."""
        try:
            handler = self._route(req)
            if handler not in self.router.sync:
                return None
            return handler(req)
        except RPCError as e:
            return error_response(e.http_status, e.message)
        except HTTPError as e:
            return error_response(e.status, e.message)
        except Exception as e:  # noqa: BLE001 - a handler bug is a 500, not a dead server
            traceback.print_exception(e, file=sys.stderr)
            return error_response(500, f"{type(e).__name__}: {e}")

    async def dispatch(self, req: Request):
        try:
            handler = self._route(req)
            if handler in self.router.sync:
                return handler(req)
            return await handler(req)
        except RPCError as e:
            return error_response(e.http_status, e.message)
        except HTTPError as e:
            return error_response(e.status, e.message)
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as e:  # noqa: BLE001 - a handler bug is a 500, not a dead server
            traceback.print_exception(e, file=sys.stderr)
            return error_response(500, f"{type(e).__name__}: {e}")


def _length(req: "Request") -> int:
    try:
        return int(req.headers.get("content-length", "0") or 0)
    except ValueError:
        return 0


class HTTPConnection(asyncio.Protocol):
    """One client connection: parses requests, runs their handlers one at
    a time in order, writes their responses."""

    def __init__(self, server: HTTPServer):
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpRequestParser(self)
        self.transport = None
        self.queue = []            # requests (or an error) waiting their turn
        self.current = None        # the request being parsed
        self.runner = None
        self.closed = False
        self.lost = self.loop.create_future()
        self.raw = False
        self.raw_sink = None
        self.raw_pending = []
        self._url = []
        self._headers = {}
        self._header_size = 0
        self._reading_paused = False
        self._write_paused = False
        self._drain_waiters = []
        self._timer = None
        self._deadline = None
        self._upgrading = None     # an Upgrade request whose body is still to come
        self._upgrade_body = None  # (that request, bytes of it left)

    # --- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.server.connections.add(self)
        self._arm(IDLE_TIMEOUT)

    def connection_lost(self, exc) -> None:
        self.closed = True
        self.server.connections.discard(self)
        self._disarm()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.lost.done():
            self.lost.set_result(None)
        for w in self._drain_waiters:
            if not w.done():
                w.set_exception(ConnectionError("client went away"))
        self._drain_waiters.clear()
        if self.current is not None:
            self.current._wake()
        for item in self.queue:
            if isinstance(item, Request):
                item._wake()
        if self.raw_sink is not None:
            self.raw_sink[1]()

    def data_received(self, data: bytes) -> None:
        if self.raw:
            if self.raw_sink is not None:
                self.raw_sink[0](data)
            else:
                self.raw_pending.append(data)
            return
        if self._upgrade_body is not None:
            self._take_upgrade_body(data)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as e:
            offset = e.args[0] if e.args else len(data)
            rest = data[offset:]
            req = self._upgrading
            left = _length(req) if req is not None else 0
            if left > 0:
                # llhttp ends an Upgrade request at its headers: its body
                # (exec start's JSON) comes first in what follows, and is
                # the request's, not the stream's
                self._upgrade_body = (req, left)
                self._take_upgrade_body(rest)
                return
            if rest:
                self.raw_pending.append(rest)
            self.pause_reading()  # until the handler takes the stream over
        except (httptools.HttpParserError, HTTPError) as e:
            status = e.status if isinstance(e, HTTPError) else 400
            message = e.message if isinstance(e, HTTPError) else f"malformed request: {e}"
            self._fail(status, message)

    def _take_upgrade_body(self, data: bytes) -> None:
        req, left = self._upgrade_body
        body, rest = data[:left], data[left:]
        left -= len(body)
        if body:
            req._feed(body)
        if left > 0:
            self._upgrade_body = (req, left)
            return
        self._upgrade_body = None
        req._feed_eof()
        if rest:
            self.raw_pending.append(rest)
        self.pause_reading()  # until the handler takes the stream over

    def eof_received(self):
        if self.raw:
            if self.raw_sink is not None:
                self.raw_sink[1]()
            else:
                self.raw_pending.append(None)
            return True  # half-close: we may still write
        if self.current is not None:
            self._fail(400, "incomplete request")
        return None

    def pause_writing(self) -> None:
        self._write_paused = True
        if self.raw_sink is not None and self.raw_sink[2] is not None:
            self.raw_sink[2]()

    def resume_writing(self) -> None:
        self._write_paused = False
        for w in self._drain_waiters:
            if not w.done():
                w.set_result(None)
        self._drain_waiters.clear()
        if self.raw_sink is not None and self.raw_sink[3] is not None:
            self.raw_sink[3]()

    # --- httptools callbacks -----------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = []
        self._headers = {}
        self._header_size = 0
        if not self.queue and self.runner is None:
            self._arm(HEADER_TIMEOUT)

    def on_url(self, url: bytes) -> None:
        self._url.append(url)
        self._header_size += len(url)
        if self._header_size > MAX_HEADER:
            raise HTTPError(431, "request header too large")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_size += len(name) + len(value)
        if self._header_size > MAX_HEADER:
            raise HTTPError(431, "request header too large")
        key = name.decode("latin-1").lower()
        value = value.decode("latin-1")
        if key in self._headers:
            if key == "content-length" and self._headers[key] != value:
                raise HTTPError(400, "conflicting Content-Length headers")
            self._headers[key] += ", " + value
        else:
            self._headers[key] = value

    def on_headers_complete(self) -> None:
        p = self.parser
        h = self._headers
        if "content-length" in h and "transfer-encoding" in h:
            raise HTTPError(400, "both Content-Length and Transfer-Encoding")
        upgrade = h.get("upgrade", "").lower() == "tcp" and "upgrade" in h.get("connection", "").lower()
        req = Request(self, p.get_method().decode("latin-1"), b"".join(self._url), h,
                      p.should_keep_alive(), upgrade)
        self.current = req
        self.queue.append(req)
        self._disarm()
        if upgrade or "transfer-encoding" in h or h.get("content-length", "0") != "0":
            self._run()   # its handler reads the body as it streams in

    def on_body(self, body: bytes) -> None:
        if self.current is not None:
            self.current._feed(body)

    def on_message_complete(self) -> None:
        req = self.current
        if req is None:
            return
        self.current = None
        if req.upgrade and _length(req) > 0:
            self._upgrading = req    # its body follows the upgrade (see data_received)
        else:
            req._feed_eof()
        if self.runner is None and len(self.queue) == 1 and self.queue[0] is req and not self.closed:
            resp = self.server.try_sync(req)
            if resp is not None:
                # the common short request: no task, no queue
                self.queue.pop()
                self.write_response(resp, req.keep_alive, head=req.method == "HEAD")
                if not req.keep_alive:
                    self.close()
                else:
                    self._arm(IDLE_TIMEOUT)
                return
        self._run()

    # --- serving ------------------------------------------------------------------

    def _fail(self, status: int, message: str) -> None:
        """A request we cannot parse: answered after those before it, then
        the connection closes."""
        if self.current is not None:
            self.current._feed_eof()
            self.current = None
        self.queue.append((status, message))
        self.pause_reading()
        self._run()

    def _run(self) -> None:
        if self.runner is None and self.queue:
            self.runner = self.loop.create_task(self._serve())

    async def _serve(self) -> None:
        try:
            while self.queue and not self.closed:
                item = self.queue.pop(0)
                if isinstance(item, tuple):
                    self.write_response(error_response(*item), keep_alive=False)
                    self.close()
                    return
                keep = await self._handle(item)
                if not keep:
                    if not self.raw:
                        self.close()
                    return
        except (ConnectionError, asyncio.CancelledError):
            self.abort()
        finally:
            self.runner = None
        if not self.closed:
            self._arm(IDLE_TIMEOUT)

    async def _handle(self, req: Request) -> bool:
        resp = await self.server.dispatch(req)
        if resp is not STREAMED and req.responded and not self.raw:
            # a handler failed halfway through its streamed answer: the
            # client learns it from the connection's end, never hangs
            self.close()
            return False
        if resp is not STREAMED and not req.responded:
            if isinstance(resp, Response):
                self.write_response(resp, req.keep_alive, head=req.method == "HEAD")
            await self.drain()
        if self.raw:
            return False
        if not req._eof:
            req.discard_body()  # what the handler did not read is not the next request
            if not req.keep_alive:
                return False
        return req.keep_alive and not self.closed

    def write_head(self, status: int, headers: dict, keep_alive: bool = True,
                   close_header: bool = True, body: bytes = b"") -> None:
        head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\n".encode("latin-1"),
                self.server.default_head]
        for k, v in headers.items():
            head.append(f"{k}: {v}\r\n".encode("latin-1"))
        if not keep_alive and close_header:
            head.append(b"Connection: close\r\n")
        head.append(b"\r\n")
        head.append(body)
        self.write(b"".join(head))

    def write_response(self, resp: Response, keep_alive: bool, head: bool = False) -> None:
        has_body = bool(resp.body) or resp.status not in (204, 304)
        if not resp.headers:
            # the usual answer: its head but for the length made once
            key = (resp.status, resp.content_type if has_body else "", keep_alive)
            prefix = self.server.heads.get(key)
            if prefix is None:
                prefix = (f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'Status')}\r\n".encode("latin-1")
                          + self.server.default_head
                          + (b"" if keep_alive else b"Connection: close\r\n")
                          + (f"Content-Type: {resp.content_type}\r\n".encode("latin-1") if has_body else b""))
                if len(self.server.heads) < 256:
                    self.server.heads[key] = prefix
            if has_body:
                self.write(b"%sContent-Length: %d\r\n\r\n%s" % (prefix, len(resp.body),
                                                                  b"" if head else resp.body))
            else:
                self.write(prefix + b"\r\n")
            return
        headers = {}
        if resp.body or resp.status not in (204, 304):
            headers["Content-Type"] = resp.content_type
            headers["Content-Length"] = str(len(resp.body))
        headers.update(resp.headers)
        self.write_head(resp.status, headers, keep_alive, body=resp.body if not head else b"")

    def go_raw(self, req: Request) -> RawStream:
        self.raw = True
        self.parser = None
        self.resume_reading()
        return RawStream(self)

    # --- transport ----------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.closed or self.transport.is_closing():
            raise ConnectionError("client went away")
        self.transport.write(data)

    async def drain(self) -> None:
        if self.closed:
            raise ConnectionError("client went away")
        if self._write_paused:
            w = self.loop.create_future()
            self._drain_waiters.append(w)
            await w

    def pause_reading(self) -> None:
        if not self._reading_paused and not self.closed:
            self._reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._reading_paused and not self.closed:
            self._reading_paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _arm(self, timeout: float) -> None:
        # a deadline moved, not a timer made per request: the one timer
        # looks at the deadline when it fires
        self._deadline = self.loop.time() + timeout
        if self._timer is not None and self._timer.when() > self._deadline:
            self._timer.cancel()
            self._timer = None
        if self._timer is None:
            self._timer = self.loop.call_at(self._deadline, self._timed_out)

    def _disarm(self) -> None:
        self._deadline = None

    def _timed_out(self) -> None:
        self._timer = None
        if self._deadline is None:
            return
        if self.loop.time() < self._deadline:
            self._timer = self.loop.call_at(self._deadline, self._timed_out)
            return
        if self.runner is None and not self.raw:
            self.abort()  # slowloris, or a keep-alive connection gone quiet
