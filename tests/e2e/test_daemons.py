"""containerd and dockerd as real daemons: sockets, version calls, clean
shutdown, refusing a second instance; each from source and as the binary."""
import json
import os
import shutil
import signal
import stat
import subprocess

import pytest

from busybox_engine.rpc.client import Client
from tests.helpers import Proc, accepts, children, comm, wait_for


def start_containerd(engine, d, *extra) -> Proc:
    sock = d / "containerd.sock"
    p = Proc(engine.argv("containerd", "--address", str(sock), "--root", str(d / "root"),
                         "--state", str(d / "state"), *extra), env=engine.env)
    wait_for(lambda: accepts(sock) or p.popen.poll() is not None, what="containerd socket")
    assert p.popen.poll() is None, p.popen.stderr.read()
    return p


def start_dockerd(engine, d, containerd_sock=None) -> Proc:
    sock = d / "docker.sock"
    p = Proc(engine.argv("dockerd", "--bridge=none", "-H", f"unix://{sock}", "--data-root", str(d / "data"),
                         "--exec-root", str(d / "exec"), "--pidfile", str(d / "dockerd.pid"),
                         "--containerd", str(containerd_sock or d / "containerd.sock")),
             env=engine.env)
    wait_for(lambda: accepts(sock) or p.popen.poll() is not None, what="dockerd socket")
    assert p.popen.poll() is None, p.popen.stderr.read()
    return p


def curl(sock, path, method="GET") -> tuple:
    how = ["-I"] if method == "HEAD" else ["-X", method]
    r = subprocess.run(["curl", "-s", *how, "-o", "-", "-w", "\n%{http_code}",
                        "--unix-socket", str(sock), f"http://docker{path}"],
                       capture_output=True, text=True, timeout=10)
    body, _, code = r.stdout.rpartition("\n")
    return int(code), body


def test_containerd_serves_version_and_cleans_up(engine, tmp_path):
    p = start_containerd(engine, tmp_path)
    try:
        assert comm(p.pid) == "containerd"
        # one process, not a launcher and a child; its only child is the shim
        # zygote it forks at start
        assert [comm(c) for c in children(p.pid)] == ["shim-zygote"]
        sock = tmp_path / "containerd.sock"
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
        with Client(str(sock)) as c:
            v = c.call("version")
        assert v["pid"] == p.pid and v["version"]
        assert (tmp_path / "root").is_dir() and (tmp_path / "state").is_dir()
    finally:
        rc = p.stop(signal.SIGTERM)
    assert rc == 0, p.err
    assert sorted(os.listdir(tmp_path)) == ["root", "state"]  # socket and lock gone


def test_containerd_refuses_a_second_instance(engine, tmp_path):
    p = start_containerd(engine, tmp_path)
    try:
        second = subprocess.run(engine.argv("containerd", "--address", str(tmp_path / "containerd.sock"),
                                            "--root", str(tmp_path / "r2"), "--state", str(tmp_path / "s2")),
                                env=engine.env, capture_output=True, text=True, timeout=30)
        assert second.returncode == 1
        assert f"another containerd is already listening on {tmp_path}/containerd.sock" in second.stderr
        with Client(str(tmp_path / "containerd.sock")) as c:  # the first one is unharmed
            assert c.call("version")["pid"] == p.pid
    finally:
        p.stop()


def test_containerd_replaces_a_stale_socket_after_kill_9(engine, tmp_path):
    p = start_containerd(engine, tmp_path)
    p.stop(signal.SIGKILL)
    assert (tmp_path / "containerd.sock").exists()  # left behind by the dead one
    p2 = start_containerd(engine, tmp_path)
    try:
        with Client(str(tmp_path / "containerd.sock")) as c:
            assert c.call("version")["pid"] == p2.pid
    finally:
        assert p2.stop() == 0


def test_dockerd_ping_version_and_shutdown(engine, tmp_path):
    ctd = start_containerd(engine, tmp_path)
    d = start_dockerd(engine, tmp_path)
    try:
        assert comm(d.pid) == "dockerd" and children(d.pid) == []
        sock = tmp_path / "docker.sock"
        assert curl(sock, "/_ping") == (200, "OK")
        assert curl(sock, "/v1.41/_ping", "HEAD")[0] == 200
        code, body = curl(sock, "/v1.41/version")
        v = json.loads(body)
        assert code == 200 and v["ApiVersion"] == "1.41" and v["Os"] == "linux"
        assert [c["Name"] for c in v["Components"]] == ["Engine", "containerd"]
        code, body = curl(sock, "/v9.99/version")
        assert code == 400 and "is too new" in json.loads(body)["message"]
        code, body = curl(sock, "/v1.41/no/such/route")
        assert code == 404 and json.loads(body) == {"message": "page not found"}
        assert int((tmp_path / "dockerd.pid").read_text()) == d.pid
    finally:
        rc = d.stop()
        ctd.stop()
    assert rc == 0, d.err
    assert not (tmp_path / "docker.sock").exists()
    assert not (tmp_path / "dockerd.pid").exists()


def test_dockerd_refuses_a_second_instance(engine, tmp_path):
    d = start_dockerd(engine, tmp_path)
    try:
        other = tmp_path / "other"
        other.mkdir()
        second = subprocess.run(
            engine.argv("dockerd", "--bridge=none", "-H", f"unix://{tmp_path}/docker.sock", "--data-root", str(other / "d"),
                        "--exec-root", str(other / "e"), "--pidfile", str(other / "pid")),
            env=engine.env, capture_output=True, text=True, timeout=30)
        assert second.returncode == 1
        assert "another dockerd is already listening on" in second.stderr
        # the same pidfile with a live pid is refused too, as dockerd does
        third = subprocess.run(
            engine.argv("dockerd", "--bridge=none", "-H", f"unix://{other}/d2.sock", "--data-root", str(other / "d"),
                        "--exec-root", str(other / "e"), "--pidfile", str(tmp_path / "dockerd.pid")),
            env=engine.env, capture_output=True, text=True, timeout=30)
        assert third.returncode == 1 and "pid file found" in third.stderr
        assert not (other / "d2.sock").exists()
    finally:
        d.stop()


@pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")
def test_real_docker_cli_and_docker_py_talk_to_our_dockerd(engine, tmp_path):
    import docker
    ctd = start_containerd(engine, tmp_path)
    d = start_dockerd(engine, tmp_path)
    try:
        host = f"unix://{tmp_path}/docker.sock"
        r = subprocess.run(["docker", "-H", host, "version", "--format", "{{.Server.APIVersion}}"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "1.41"
        client = docker.DockerClient(base_url=host)
        assert client.ping() is True
        assert client.version()["Components"][0]["Name"] == "Engine"
        client.close()
        # and our own client
        r = subprocess.run(engine.argv("docker", "-H", host, "version"), env=engine.env,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert "Server: busybox-engine" in r.stdout and "API version:      1.41" in r.stdout
    finally:
        d.stop()
        ctd.stop()


def test_docker_cli_without_daemon(engine, tmp_path):
    r = subprocess.run(engine.argv("docker", "-H", f"unix://{tmp_path}/none.sock", "version"),
                       env=engine.env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert r.stdout.startswith("Client:")
    assert f"Cannot connect to the Docker daemon at unix://{tmp_path}/none.sock" in r.stderr
    r = subprocess.run(engine.argv("docker", "frob"), env=engine.env, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1 and "docker: 'frob' is not a docker command." in r.stderr
