"""--console-socket: the pty master goes to the socket over SCM_RIGHTS."""
import os
import socket
import threading

from tests.helpers import wait_for


def receive_master(path: str, result: dict) -> socket.socket:
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)

    def accept():
        conn, _ = srv.accept()
        msg, fds, _, _ = socket.recv_fds(conn, 4096, 1)
        result["name"], result["fd"] = msg.decode(), fds[0]
        conn.close()
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    result["thread"] = t
    return srv


def read_all(fd: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO once the slave side is closed
            break
        if not chunk:
            break
        out += chunk
    return out


def console_run(runc, tmp_path, bundle: str, cid: str, typed: bytes = b"") -> tuple:
    """Create cid with its console sent to a socket of ours, start it, type
    `typed`, and read the console until the container exits: (the pty's
    name, what it showed, without carriage returns)."""
    result = {}
    srv = receive_master(str(tmp_path / "console.sock"), result)
    try:
        runc("create", "-b", bundle, "--console-socket", str(tmp_path / "console.sock"), cid)
        result["thread"].join(10)
        master = result["fd"]
        runc("start", cid)
        if typed:
            os.write(master, typed)
        wait_for(lambda: runc.state(cid)["status"] == "stopped", what="exit")
        out = read_all(master).decode().replace("\r", "")
        os.close(master)
    finally:
        srv.close()
    return result["name"], out


def test_terminal_through_console_socket(runc, tmp_path):
    b = runc.bundle(["sh", "-c", "tty; stty size; read line; echo got:$line"])
    spec = runc.spec(b)
    spec["process"]["terminal"] = True
    spec["process"]["consoleSize"] = {"height": 40, "width": 100}
    runc.write_spec(b, spec)
    name, out = console_run(runc, tmp_path, b, "c1", b"hello\n")
    assert name.startswith("/dev/pts/")
    lines = [line for line in out.split("\n") if line]
    # the pty echoes our input, possibly before the program prints anything
    assert [x for x in lines if x.startswith("/dev/pts/")]
    assert "40 100" in lines
    assert lines[-1] == "got:hello"


def test_terminal_without_console_socket_when_detached_is_refused(runc, tmp_path):
    b = runc.bundle(["true"])
    spec = runc.spec(b)
    spec["process"]["terminal"] = True
    runc.write_spec(b, spec)
    r = runc("create", "-b", b, "c1", check=False)
    assert r.returncode == 1 and "cannot allocate tty" in r.stderr


def test_run_in_the_foreground_relays_its_own_pty(runc):
    b = runc.bundle(["sh", "-c", "tty; read line; echo got:$line; exit 3"])
    spec = runc.spec(b)
    spec["process"]["terminal"] = True
    runc.write_spec(b, spec)
    r = runc("run", "-b", b, "c1", input="hello\n", check=False)
    assert r.returncode == 3, r.stderr
    lines = r.stdout.replace("\r", "").split("\n")
    assert "/dev/pts/0" in lines and "got:hello" in lines  # (the pty echoes the input too)
