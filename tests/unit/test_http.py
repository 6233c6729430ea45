"""dockerd's HTTP/1.1 layer on a real unix socket: keep-alive, pipelining,
chunked bodies both ways, hijacking with half-close, and the requests a
hostile client sends (conflicting lengths, slowloris, bare LF)."""
import asyncio
import os
import socket
import tempfile

import pytest

from busybox_engine.api import http
from busybox_engine.api.http import STREAMED, HTTPServer, Response, Router, json_response


def _router() -> Router:
    r = Router()

    async def hello(req):
        return Response(200, b"hello " + req.path.encode(), content_type="text/plain")

    async def echo(req):
        body = await req.read_body()
        return json_response({"len": len(body), "head": body[:10].decode()})

    async def stream(req):
        w = await req.stream(200, "application/json")
        for i in range(3):
            await w.write(b'{"n": %d}\n' % i)
        await w.end()
        return STREAMED

    async def hijack(req):
        raw = req.hijack()
        got = b""
        done = asyncio.get_running_loop().create_future()
        raw.set_sink(lambda d: raw.write(d.upper()), lambda: done.done() or done.set_result(None))
        await done
        raw.write(b"BYE")
        await raw.drain()
        raw.close()
        del got
        return STREAMED

    r.add("GET", "/hello", hello)
    r.add("POST", "/echo", echo)
    r.add("GET", "/stream", stream)
    r.add("POST", "/hijack", hijack)
    r.add("GET", "/things/{name:.*}/json", hello)
    return r


def serve_and(client_fn):
    """Run the server on a socket in a temporary directory and client_fn(path)
    in a thread beside it; its result."""
    d = tempfile.mkdtemp()
    path = os.path.join(d, "api.sock")

    async def main():
        server = HTTPServer(_router())
        srv = await asyncio.get_running_loop().create_unix_server(server.protocol, path)
        try:
            return await asyncio.wait_for(asyncio.to_thread(client_fn, path), 20)
        finally:
            srv.close()
            server.close_all()
            await srv.wait_closed()
    try:
        return asyncio.run(main())
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        os.rmdir(d)


def connect(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    return s


def read_all(s: socket.socket) -> bytes:
    out = b""
    while True:
        try:
            data = s.recv(65536)
        except socket.timeout:
            return out + b"<timeout>"
        if not data:
            return out
        out += data


def test_keep_alive_and_pipelined_requests_are_answered_in_order():
    def client(path):
        s = connect(path)
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /things/a/b/json HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n")
        return read_all(s)
    out = serve_and(client)
    assert out.count(b"HTTP/1.1 200 OK") == 2
    assert out.index(b"hello /hello") < out.index(b"hello /things/a/b/json")
    assert not out.endswith(b"<timeout>")


def test_chunked_request_body_and_chunked_response():
    def client(path):
        s = connect(path)
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                  b"GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return read_all(s)
    out = serve_and(client)
    assert b'{"len": 11, "head": "hello worl"}' in out
    assert b"Transfer-Encoding: chunked" in out
    assert b'{"n": 2}' in out and out.endswith(b"0\r\n\r\n")


@pytest.mark.parametrize("request_bytes", [
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    b"GET /hello HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
])
def test_smuggling_shapes_are_400_and_the_connection_closes(request_bytes):
    def client(path):
        s = connect(path)
        s.sendall(request_bytes)
        return read_all(s)
    out = serve_and(client)
    assert out.startswith(b"HTTP/1.1 400 "), out
    assert b'"message"' in out
    assert not out.endswith(b"<timeout>")


def test_bare_lf_request_is_answered_or_refused_never_hung():
    def client(path):
        s = connect(path)
        s.sendall(b"GET /hello HTTP/1.1\nHost: x\nConnection: close\n\n")
        return read_all(s)
    out = serve_and(client)
    assert out.startswith((b"HTTP/1.1 200 ", b"HTTP/1.1 400 ")), out
    assert not out.endswith(b"<timeout>")


def test_unknown_path_404_and_wrong_method_405():
    def client(path):
        s = connect(path)
        s.sendall(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\nPUT /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return read_all(s)
    out = serve_and(client)
    assert b"HTTP/1.1 404 " in out and b'{"message": "page not found"}' in out
    assert b"HTTP/1.1 405 " in out


def test_slowloris_headers_are_cut_off(monkeypatch):
    monkeypatch.setattr(http, "HEADER_TIMEOUT", 0.3)

    def client(path):
        s = connect(path)
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n")   # never finishes its headers
        return read_all(s)
    out = serve_and(client)
    assert out == b"", out   # closed by the server, not by our 5 s timeout


def test_hijack_upgrade_raw_both_ways_and_half_close():
    def client(path):
        s = connect(path)
        s.sendall(b"POST /hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                  b"Content-Length: 0\r\n\r\nearly")
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(1)
        s.sendall(b"later")
        got = b""
        while len(got) < 10:
            got += s.recv(100)
        s.shutdown(socket.SHUT_WR)      # our end of writing: the server still writes
        return head, got + read_all(s)
    head, got = serve_and(client)
    assert head.startswith(b"HTTP/1.1 101 UPGRADED\r\n")
    assert b"Upgrade: tcp" in head
    assert got == b"EARLYLATERBYE"
