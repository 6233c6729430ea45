"""Exec, Attach and PortForward through the CRI streaming server: crictl
1.29 speaks SPDY/3.1 to it (with a terminal, on a pty of the test's), and
a WebSocket client of our own speaks v5.channel.k8s.io."""
import base64
import json
import os
import pty
import select
import socket
import struct
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from tests.cri.conftest import Pod
from tests.fixtures.registry import free_port
from tests.helpers import wait_for


@pytest.fixture
def pod(cri, cni_net, busybox_image, tmp_path):
    cri.start()
    busybox_image()
    return Pod(cri, tmp_path).run()


def crictl_argv(cri, *args) -> list:
    endpoint = f"unix://{cri.sock}"
    return [cri.crictl_path, "--runtime-endpoint", endpoint, "--image-endpoint", endpoint, *args]


def on_pty(argv: list, keys: list, timeout: float = 20) -> tuple:
    """argv on a terminal of ours; each of keys typed after a pause; (output, exit code)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    out = b""

    def read(seconds):
        nonlocal out
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                try:
                    out += os.read(fd, 65536)
                except OSError:
                    return
    read(1.5)
    for k in keys:
        os.write(fd, k)
        read(1.5)
    deadline = time.monotonic() + timeout
    while True:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise AssertionError(f"{argv} did not end: {out!r}")
        read(0.2)
    os.close(fd)
    return out, os.waitstatus_to_exitcode(st)


def test_exec_streams_stdin_and_exit_codes(cri, pod):
    cid = pod.container("c", ["sleep", "1000"])
    r = subprocess.run(crictl_argv(cri, "exec", cid, "sh", "-c", "echo out; echo err >&2; exit 4"),
                       capture_output=True, text=True, timeout=60)
    assert r.stdout == "out\n" and r.stderr.startswith("err\n")
    assert r.returncode == 1 and "command terminated with exit code 4" in r.stderr
    r = subprocess.run(crictl_argv(cri, "exec", "-i", cid, "sh", "-c", "tr a-z A-Z"), input="piped in\n",
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (0, "PIPED IN\n"), r.stderr
    big = "x" * 300000 + "\n"   # past SPDY's 64 KiB window, both ways
    r = subprocess.run(crictl_argv(cri, "exec", "-i", cid, "cat"), input=big, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout == big


def test_exec_with_a_terminal(cri, pod):
    cid = pod.container("c", ["sleep", "1000"])
    out, code = on_pty(crictl_argv(cri, "exec", "-it", cid, "sh"),
                       [b"tty; echo marker-$((6*7))\r", b"exit 5\r"])
    assert b"/dev/pts/" in out and b"marker-42" in out, out
    assert code == 1 and b"command terminated with exit code 5" in out


def test_attach(cri, pod):
    cid = pod.container("reader", ["sh", "-c", "read line; echo got:$line; echo bye >&2"],
                        stdin=True, stdin_once=True)
    r = subprocess.run(crictl_argv(cri, "attach", "-i", cid), input="hello\n", capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "got:hello" in r.stdout and "bye" in r.stderr
    wait_for(lambda: cri.crictl_json("inspect", cid)["status"]["state"] == "CONTAINER_EXITED", what="exit")
    tty = pod.container("tty", ["sh"], tty=True, stdin=True)
    out, code = on_pty(crictl_argv(cri, "attach", "-it", tty), [b"\r", b"echo attached-$((2+3))\r", b"exit 0\r"])
    assert b"attached-5" in out and code == 0, out


def test_port_forward(cri, pod):
    pod.container("web", ["sh", "-c", "mkdir -p /www && echo served > /www/index.html && "
                                      "exec httpd -f -p 8080 -h /www"])
    port = free_port()
    p = subprocess.Popen(crictl_argv(cri, "port-forward", pod.id, f"{port}:8080"), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        def fetch():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3).read()
            except OSError:
                return None
        assert wait_for(fetch, timeout=20, what="httpd through the port-forward") == b"served\n"
        assert fetch() == b"served\n"   # a second connection on the same session
    finally:
        p.kill()
        p.wait()


def ws_connect(url: str, protocol: str) -> socket.socket:
    u = urllib.parse.urlparse(url)
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
               f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Protocol: {protocol}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    assert f"Sec-WebSocket-Protocol: {protocol}".encode() in head
    return s


def ws_send(s: socket.socket, data: bytes) -> None:
    mask = os.urandom(4)
    head = struct.pack(">BB", 0x82, 0x80 | len(data)) if len(data) < 126 else \
        struct.pack(">BBH", 0x82, 0x80 | 126, len(data))
    s.sendall(head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(data)))


def ws_messages(s: socket.socket) -> list:
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf
    out = []
    try:
        while True:
            b0, b1 = exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", exact(8))[0]
            data = exact(n)
            if b0 & 0x0F == 0x8:
                break
            out.append(data)
    except EOFError:
        pass
    return out


def test_exec_over_websocket(cri, pod):
    cid = pod.container("c", ["sleep", "1000"])
    url = cri.call("RuntimeService/Exec", container_id=cid, cmd=["sh", "-c", "cat; echo err >&2; exit 3"],
                   stdin=True, stdout=True, stderr=True).url
    assert url.startswith("http://127.0.0.1:")
    s = ws_connect(url, "v5.channel.k8s.io")
    ws_send(s, b"\x00from-ws\n")
    ws_send(s, b"\xff\x00")   # v5: close stdin
    msgs = ws_messages(s)
    s.close()
    stdout = b"".join(m[1:] for m in msgs if m[0] == 1 and len(m) > 1 and m[:1] != b"\xff")
    stderr = b"".join(m[1:] for m in msgs if m[0] == 2)
    assert stdout == b"from-ws\n" and stderr == b"err\n"
    result = json.loads([m[1:] for m in msgs if m[0] == 3][0])
    assert result["status"] == "Failure" and result["reason"] == "NonZeroExitCode"
    assert result["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    # a URL serves once
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=10)
    assert e.value.code == 404


def test_streaming_errors(cri, pod):
    cid = pod.container("c", ["sleep", "1000"])

    def code(method, **fields):
        with pytest.raises(GRPCError) as e:
            cri.call(method, **fields)
        return e.value.status
    assert code("RuntimeService/Exec", container_id="0" * 64, cmd=["true"], stdout=True) == Status.NOT_FOUND
    assert code("RuntimeService/Exec", container_id=cid, cmd=["true"]) == Status.INVALID_ARGUMENT
    assert code("RuntimeService/Exec", container_id=cid, cmd=["true"], tty=True, stdout=True,
                stderr=True) == Status.INVALID_ARGUMENT
    assert code("RuntimeService/Exec", container_id=cid, cmd=[], stdout=True) == Status.INVALID_ARGUMENT
    assert code("RuntimeService/PortForward", pod_sandbox_id="0" * 64, port=[80]) == Status.NOT_FOUND
    cri.crictl("stop", "-t", "0", cid)
    assert code("RuntimeService/Attach", container_id=cid, stdout=True) == Status.FAILED_PRECONDITION
