"""The shim on its own: create/start/wait/kill/delete over msgpack-RPC,
output to a json-file log and to attached clients, exit on disk."""
import json
import os
import signal

import pytest

from busybox_engine.rpc.client import Client
from tests.fixtures.bundles import make_bundle
from tests.helpers import Proc, accepts, wait_for
from tests.runtime.conftest import mounts_under, reap


class ShimFixture:
    def __init__(self, engine, tmp_path, template):
        self.engine = engine
        self.tmp = tmp_path
        self.template = template
        self.procs = []

    def start(self, cid="c1"):
        sock = self.tmp / f"{cid}.sock"
        state = self.tmp / f"state-{cid}"
        p = Proc(self.engine.argv("containerd-shim", "--namespace", "test", "--id", cid,
                                  "--socket", str(sock), "--state-dir", str(state)),
                 env=self.engine.env, start_new_session=True)
        self.procs.append(p)
        wait_for(lambda: accepts(sock) or p.popen.poll() is not None, what="shim socket")
        assert p.popen.poll() is None, p.popen.stderr.read()
        return p, Client(str(sock), timeout=30), state

    def bundle(self, args, name="bundle", **kw):
        return make_bundle(str(self.tmp / name), args, self.template, **kw)

    def cleanup(self):
        import subprocess
        for p in self.procs:
            if p.popen.poll() is None:
                # delete whatever the shim still has, then stop it
                state = None
                for a in p.argv:
                    if str(a).startswith(str(self.tmp / "state-")):
                        state = a
                if state:
                    root = os.path.join(state, "runc")
                    if os.path.isdir(root):
                        for cid in os.listdir(root):
                            subprocess.run(self.engine.argv("runc", "--root", root, "delete", "--force", cid),
                                           env=self.engine.env, capture_output=True)
            p.stop()
        reap()


@pytest.fixture
def shim(engine, tmp_path, rootfs_template):
    s = ShimFixture(engine, tmp_path, rootfs_template)
    yield s
    s.cleanup()
    assert mounts_under(str(tmp_path)) == []


def logs(path):
    return [json.loads(line) for line in open(path)]


def attach(tmp_path, cid="c1", **params):
    """A stream of the shim's process (task.attach hands the connection over)."""
    from busybox_engine.rpc.client import request_stream
    _, sock = request_stream(str(tmp_path / f"{cid}.sock"), "task.attach", params, timeout=30)
    return sock


def frames(sock) -> list:
    """Read a framed (stdcopy) stream to its end: [(1|2, bytes)]."""
    data = bytearray()
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    out = []
    while data:
        size = int.from_bytes(data[4:8], "big")
        out.append((data[0], bytes(data[8:8 + size])))
        del data[:8 + size]
    return out


def test_create_start_wait_delete_with_json_log(shim, tmp_path):
    p, c, state = shim.start()
    b = shim.bundle(["sh", "-c", "echo out; echo err >&2; exit 7"])
    log = tmp_path / "c1.log"
    pid = c.call("task.create", bundle=b, log_path=str(log))["pid"]
    assert c.call("task.state")["status"] == "created"
    assert c.call("task.start")["pid"] == pid
    exit_info = c.call("task.wait")
    assert exit_info["exit_status"] == 7 and exit_info["exited_at"].endswith("Z")
    wait_for(lambda: log.exists() and len(logs(log)) == 2, what="log lines")
    assert sorted((e["stream"], e["log"]) for e in logs(log)) == [("stderr", "err\n"), ("stdout", "out\n")]
    on_disk = json.loads((state / "exit.json").read_text())
    assert on_disk["exit_status"] == 7 and on_disk["pid"] == pid
    assert c.call("task.delete")["exit_status"] == 7
    assert p.popen.wait(10) == 0  # the shim exits after delete
    assert not (tmp_path / "c1.sock").exists()


def test_shim_is_the_parent_and_runc_is_gone(shim, tmp_path):
    p, c, _ = shim.start()
    b = shim.bundle(["sleep", "100"])
    pid = c.call("task.create", bundle=b)["pid"]
    c.call("task.start")
    with open(f"/proc/{pid}/stat") as f:
        assert int(f.read().rsplit(")", 1)[1].split()[1]) == p.pid
    with open(f"/proc/{p.pid}/comm") as f:
        assert f.read().strip() == "containerd-shim"
    assert c.call("task.pids") == [pid]
    c.call("task.pause")
    assert c.call("task.state")["status"] == "paused"
    c.call("task.resume")
    c.call("task.kill", signal=9)
    assert c.call("task.wait")["exit_status"] == 137
    c.call("task.delete")


def test_output_never_blocks_the_container(shim, tmp_path):
    """10 MB of output with nobody attached: the shim drains it to the log."""
    _, c, _ = shim.start()
    b = shim.bundle(["sh", "-c", "head -c 10000000 /dev/zero | tr '\\0' 'x' | fold -w 100; echo done"])
    log = tmp_path / "big.log"
    c.call("task.create", bundle=b, log_path=str(log))
    c.call("task.start")
    assert c.call("task.wait")["exit_status"] == 0
    c.call("task.delete")
    entries = logs(log)
    # fold leaves the last 100 x's without a newline: "done" ends that line
    assert len(entries) == 100000 and entries[-1]["log"] == "x" * 100 + "done\n"
    assert sum(len(e["log"]) for e in entries) == 10000000 + 99999 + 5


def test_attach_streams_output_and_stdin(shim, tmp_path):
    _, c, _ = shim.start()
    b = shim.bundle(["sh", "-c", "read line; echo got:$line; echo oops >&2"])
    c.call("task.create", bundle=b, stdin=True)
    c.call("task.subscribe")
    s = attach(tmp_path)
    c.call("task.start")
    c.call("task.write_stdin", data=b"hello\n")
    assert frames(s) == [(1, b"got:hello\n"), (2, b"oops\n")]
    method, info = c.next_notification()
    assert method == "task.exit" and info["exit_status"] == 0
    c.call("task.delete")


def test_stdin_through_the_stream_and_its_end_closes_stdin(shim, tmp_path):
    _, c, _ = shim.start()
    b = shim.bundle(["sh", "-c", "wc -c"])
    c.call("task.create", bundle=b, stdin=True)
    s = attach(tmp_path, stdin=True, close_stdin=True)
    c.call("task.start")
    s.sendall(b"x" * 3_000_000)  # more than any pipe holds: taken as the process reads
    import socket
    s.shutdown(socket.SHUT_WR)
    assert frames(s) == [(1, b"3000000\n")]
    assert c.call("task.wait")["exit_status"] == 0
    c.call("task.delete")


def test_terminal_through_the_shim(shim, tmp_path):
    p, c, _ = shim.start()
    b = shim.bundle(["sh", "-c", "tty; stty size"])
    spec = json.load(open(os.path.join(b, "config.json")))
    spec["process"]["terminal"] = True
    json.dump(spec, open(os.path.join(b, "config.json"), "w"))
    log = tmp_path / "tty.log"
    c.call("task.create", bundle=b, terminal=True, log_path=str(log))
    # the console was received without a thread: the shim forks runc, and
    # a fork must find no other thread (an executor's once lingered)
    assert os.listdir(f"/proc/{p.pid}/task") == [str(p.pid)]
    c.call("task.resize_pty", width=120, height=33)
    c.call("task.start")
    assert c.call("task.wait")["exit_status"] == 0
    wait_for(lambda: log.exists() and "33 120" in log.read_text(), what="tty output")
    text = "".join(e["log"] for e in logs(log)).replace("\r", "")
    assert "/dev/pts/0\n" in text and "33 120\n" in text
    c.call("task.delete")


def test_errors_and_bad_input(shim, tmp_path):
    _, c, _ = shim.start()
    from busybox_engine.rpc.errors import InvalidArgument, NotFound, Internal
    with pytest.raises(NotFound):
        c.call("task.wait")
    with pytest.raises(NotFound):
        c.call("task.start")
    with pytest.raises(InvalidArgument):
        c.call("task.create", bundle=str(tmp_path / "nowhere"))
    with pytest.raises(InvalidArgument):
        c.call("task.create", bundle=123)
    with pytest.raises(NotFound):
        c.call("task.kill")
    with pytest.raises(NotFound):
        c.call("task.runc")  # internals are not methods
    b = shim.bundle(["nosuchprogram"])
    with pytest.raises(Internal, match="executable file not found"):
        c.call("task.create", bundle=b)
    assert c.call("task.state")["status"] == "unknown"


def test_sigterm_to_the_shim_leaves_it_clean(shim, tmp_path):
    p, c, _ = shim.start()
    c.close()
    assert p.stop(signal.SIGTERM) == 0
    assert not (tmp_path / "c1.sock").exists()


def test_exec_processes(shim, tmp_path):
    _, c, _ = shim.start()
    b = shim.bundle(["sleep", "100"])
    c.call("task.create", bundle=b)
    c.call("task.start")
    c.call("task.subscribe")
    proc = {"args": ["sh", "-c", "read x; echo exec:$x; exit 5"], "cwd": "/",
            "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}
    assert c.call("task.exec", exec_id="e1", process=proc, stdin=True)["status"] == "created"
    s = attach(tmp_path, exec_id="e1")
    pid = c.call("task.start", exec_id="e1")["pid"]
    assert pid in c.call("task.pids")
    c.call("task.write_stdin", exec_id="e1", data=b"hi\n")
    assert c.call("task.wait", exec_id="e1")["exit_status"] == 5
    assert frames(s) == [(1, b"exec:hi\n")]
    method, info = c.next_notification()
    assert method == "task.exit" and info["exec_id"] == "e1"
    assert c.call("task.delete", exec_id="e1")["exit_status"] == 5
    from busybox_engine.rpc.errors import AlreadyExists, NotFound
    with pytest.raises(NotFound):
        c.call("task.state", exec_id="e1")
    c.call("task.exec", exec_id="e2", process=dict(proc, args=["sleep", "50"]))
    c.call("task.start", exec_id="e2")
    with pytest.raises(AlreadyExists):
        c.call("task.exec", exec_id="e2", process=proc)
    c.call("task.kill", signal=9, exec_id="e2")
    assert c.call("task.wait", exec_id="e2")["exit_status"] == 137
    c.call("task.kill", signal=9)
    c.call("task.wait")
    c.call("task.delete")


def test_a_lost_exit_record_does_not_lose_the_exit(shim, tmp_path):
    """exit.json cannot be written (here: a directory is in its way): the
    exit still reaches every waiter."""
    _, c, state = shim.start()
    b = shim.bundle(["sh", "-c", "sleep 0.5; exit 4"])
    c.call("task.create", bundle=b)
    (state / "exit.json").mkdir()
    (state / "exit.json" / "in-the-way").write_text("")
    c.call("task.start")
    assert c.call("task.wait")["exit_status"] == 4
    assert c.call("task.delete")["exit_status"] == 4


def test_a_container_that_never_reads_stdin_stops_nobody(shim, tmp_path):
    """Megabytes for a stdin nobody reads: the writer waits, the shim goes
    on answering and logging (a blocking write once stopped it all)."""
    import threading
    _, c, _ = shim.start()
    b = shim.bundle(["sh", "-c", "while :; do echo tick; sleep 0.05; done"])
    log = tmp_path / "ticks.log"
    c.call("task.create", bundle=b, stdin=True, log_path=str(log))
    c.call("task.start")
    done = []

    def write():
        with Client(str(tmp_path / "c1.sock"), timeout=60) as w:
            try:
                done.append(w.call("task.write_stdin", data=b"x" * (4 << 20)))
            except Exception as e:  # noqa: BLE001
                done.append(e)
    t = threading.Thread(target=write)
    t.start()
    try:
        import time
        time.sleep(0.5)
        assert not done  # it waits: the queue is full and nobody reads
        with Client(str(tmp_path / "c1.sock"), timeout=3) as other:
            assert other.call("task.state")["status"] == "running"
            lines = len(logs(log))
            time.sleep(0.3)
            assert len(logs(log)) > lines  # still logging
    finally:
        c.call("task.kill", signal=9)
        t.join(10)
    assert c.call("task.wait")["exit_status"] == 137
    assert len(done) == 1  # answered once stdin went away with the process
    c.call("task.delete")


def test_a_terminal_gets_every_byte_of_a_big_write(shim, tmp_path):
    """A pty takes a big write in pieces: none may be dropped."""
    _, c, _ = shim.start()
    b = shim.bundle(["sh", "-c", "stty raw -echo; echo ready; head -c 300000 | wc -c"])
    spec = json.load(open(os.path.join(b, "config.json")))
    spec["process"]["terminal"] = True
    json.dump(spec, open(os.path.join(b, "config.json"), "w"))
    log = tmp_path / "tty.log"
    c.call("task.create", bundle=b, terminal=True, stdin=True, log_path=str(log))
    c.call("task.start")
    wait_for(lambda: log.exists() and "ready" in log.read_text(), what="raw mode")
    assert c.call("task.write_stdin", data=bytes(range(256)) * 1171 + b"x" * 224) == 300000
    assert c.call("task.wait")["exit_status"] == 0
    c.call("task.delete")
    assert "300000" in "".join(e["log"] for e in logs(log))
