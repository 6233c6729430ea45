"""A small HTTP/1.1 server on asyncio streams, enough for the Engine API.

Keep-alive, Content-Length and chunked request bodies, JSON responses.
Errors are Docker's shape: {"message": "..."} with the status from the
RPC error set.
"""
import asyncio
import json
import re
import sys
import traceback
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from busybox_engine.rpc.errors import InvalidArgument, NotFound, RPCError

MAX_HEADER = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
REASONS = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified",
           400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
           413: "Payload Too Large", 431: "Request Header Fields Too Large",
           500: "Internal Server Error", 503: "Service Unavailable"}


class HTTPError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes = b""
    params: dict = field(default_factory=dict)  # from the route pattern
    api_version: str | None = None

    def json(self):
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise InvalidArgument(f"invalid JSON body: {e}") from None

    def arg(self, name: str, default=None):
        values = self.query.get(name)
        return values[-1] if values else default


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)


def json_response(obj, status: int = 200) -> Response:
    return Response(status, json.dumps(obj).encode() + b"\n")


def error_response(status: int, message: str) -> Response:
    return json_response({"message": message}, status)


class Router:
    """(method, path pattern) -> handler; `{name}` matches one path segment,
    `{name:.*}` anything (image names have slashes)."""

    def __init__(self):
        self.routes = []

    def add(self, method: str, pattern: str, handler) -> None:
        regex = re.sub(r"\{(\w+)(?::([^}]+))?\}",
                       lambda m: f"(?P<{m.group(1)}>{m.group(2) or '[^/]+'})", pattern)
        self.routes.append((method, re.compile(f"^{regex}$"), handler))

    def match(self, method: str, path: str):
        for m, regex, handler in self.routes:
            if m == method or (method == "HEAD" and m == "GET"):
                found = regex.match(path)
                if found:
                    return handler, {k: unquote(v) for k, v in found.groupdict().items()}
        raise NotFound("page not found")


class HTTPServer:
    """Serve a Router on asyncio streams; `prepare(req)` may reject a request
    (API version checks) and `default_headers` go on every response."""

    def __init__(self, router: Router, prepare=None, default_headers=None):
        self.router = router
        self.prepare = prepare
        self.default_headers = default_headers or {}
        self.writers = set()

    async def handle_connection(self, reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                try:
                    req, keep_alive = await read_request(reader)
                except HTTPError as e:
                    await self._send(writer, error_response(e.status, e.message), False)
                    return
                if req is None:
                    return
                resp = await self.dispatch(req)
                await self._send(writer, resp, keep_alive, head=req.method == "HEAD")
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    async def dispatch(self, req: Request) -> Response:
        try:
            if self.prepare is not None:
                self.prepare(req)
            handler, req.params = self.router.match(req.method, req.path)
            resp = await handler(req)
        except RPCError as e:
            resp = error_response(e.http_status, e.message)
        except HTTPError as e:
            resp = error_response(e.status, e.message)
        except Exception as e:  # noqa: BLE001 - a handler bug is a 500, not a dead server
            traceback.print_exception(e, file=sys.stderr)
            resp = error_response(500, f"{type(e).__name__}: {e}")
        return resp

    async def _send(self, writer, resp: Response, keep_alive: bool, head: bool = False):
        headers = dict(self.default_headers)
        if resp.body or resp.status not in (204, 304):
            headers["Content-Type"] = resp.content_type
            headers["Content-Length"] = str(len(resp.body))
        headers.update(resp.headers)
        if not keep_alive:
            headers["Connection"] = "close"
        lines = [f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if not head and resp.body:
            writer.write(resp.body)
        await writer.drain()


async def read_request(reader: asyncio.StreamReader):
    """The next request on the connection, or (None, False) at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if e.partial.strip():
            raise HTTPError(400, "incomplete request") from None
        return None, False
    except asyncio.LimitOverrunError:
        raise HTTPError(431, "request header too large") from None
    try:
        text = head.decode("latin-1")
        request_line, *header_lines = text[:-4].split("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError:
        raise HTTPError(400, "malformed request line") from None
    if not version.startswith("HTTP/1."):
        raise HTTPError(400, f"unsupported protocol {version}")
    headers = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HTTPError(400, "malformed header line")
        headers[name.lower()] = value.strip()
    keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await read_chunked(reader)
    else:
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise HTTPError(400, "invalid Content-Length") from None
        if length < 0:
            raise HTTPError(400, "invalid Content-Length")
        if length > MAX_BODY:
            raise HTTPError(413, "request body too large")
        body = await reader.readexactly(length) if length else b""
    url = urlsplit(target)
    req = Request(method=method, path=url.path or "/",
                  query=parse_qs(url.query, keep_blank_values=True),
                  headers=headers, body=body)
    return req, keep_alive


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts, total = [], 0
    while True:
        line = await reader.readuntil(b"\r\n")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise HTTPError(400, "malformed chunk size") from None
        if size == 0:
            # trailers until the empty line
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return b"".join(parts)
        total += size
        if total > MAX_BODY:
            raise HTTPError(413, "request body too large")
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
