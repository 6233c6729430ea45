"""Real peers drive our runc: containerd's io.containerd.runc.v2 shim."""
import os
import shutil
import subprocess

import pytest

from tests.helpers import Proc, accepts, wait_for
from tests.runtime.conftest import mounts_under, reap

def cgroup_parents(name: str) -> set:
    import glob
    return set(glob.glob(f"/sys/fs/cgroup/*/{name}"))


@pytest.fixture
def cgroup_parent_cleanup():
    """containerd and dockerd give runc cgroupsPath /default/ID, /docker/ID:
    the parent directories made during the test go with it."""
    before = cgroup_parents("default") | cgroup_parents("docker")
    yield
    for d in (cgroup_parents("default") | cgroup_parents("docker")) - before:
        try:
            os.rmdir(d)
        except OSError:
            pass
    assert (cgroup_parents("default") | cgroup_parents("docker")) - before == set()


pytestmark = pytest.mark.skipif(shutil.which("containerd") is None or shutil.which("ctr") is None,
                                reason="Debian's containerd is not installed")


@pytest.fixture
def real_containerd(tmp_path):
    d = tmp_path / "ctd"
    d.mkdir()
    config = d / "config.toml"
    config.write_text(f"""version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
""")
    p = Proc(["containerd", "--config", str(config)])
    try:
        wait_for(lambda: accepts(d / "containerd.sock") or p.popen.poll() is not None,
                 timeout=20, what="containerd")
        assert p.popen.poll() is None
        yield str(d / "containerd.sock")
    finally:
        p.stop()
        reap()
        for m in reversed(mounts_under(str(d))):
            subprocess.run(["umount", "-l", m], check=False)


def ctr(address, *args, timeout=60):
    return subprocess.run(["ctr", "-a", address, *args], capture_output=True, text=True,
                          timeout=timeout)


def test_containerd_shim_runs_containers_with_our_runc(installed, real_containerd, rootfs_template,
                                                       cgroup_parent_cleanup):
    runc = os.path.join(installed, "runc")
    r = ctr(real_containerd, "run", "--rm", "--runc-binary", runc, "--rootfs", rootfs_template,
            "t1", "sh", "-c", "echo hello from pid $$; exit 7")
    assert r.returncode == 7, r.stderr
    assert r.stdout == "hello from pid 1\n"
    r = ctr(real_containerd, "run", "-d", "--runc-binary", runc, "--rootfs", rootfs_template,
            "t2", "sleep", "100")
    assert r.returncode == 0, r.stderr
    try:
        tasks = ctr(real_containerd, "task", "ls").stdout
        assert "t2" in tasks and "RUNNING" in tasks
        # the shim runs `runc exec --process FILE --detach --pid-file ...`
        r = ctr(real_containerd, "task", "exec", "--exec-id", "e1", "t2", "sh", "-c",
                "echo exec in $(cat /proc/1/cmdline | tr '\\0' ' '); exit 3")
        assert r.returncode == 3, r.stderr
        assert r.stdout == "exec in sleep 100\n"
        ctr(real_containerd, "task", "pause", "t2")
        assert "PAUSED" in ctr(real_containerd, "task", "ls").stdout
        ctr(real_containerd, "task", "resume", "t2")
        assert ctr(real_containerd, "task", "kill", "-s", "KILL", "t2").returncode == 0
        wait_for(lambda: "STOPPED" in ctr(real_containerd, "task", "ls").stdout, what="stopped")
    finally:
        ctr(real_containerd, "task", "rm", "-f", "t2")
        ctr(real_containerd, "container", "rm", "t2")


@pytest.mark.skipif(shutil.which("dockerd") is None, reason="Debian's docker.io is not installed")
def test_dockerd_runs_containers_with_our_runc(installed, tmp_path, rootfs_template,
                                               cgroup_parent_cleanup):
    """dockerd --add-runtime: run, exit codes, exec, pause, a tty, -m 8m."""
    from tests.fixtures.images import docker_archive
    d = tmp_path / "dk"
    d.mkdir()
    sock = d / "docker.sock"
    p = Proc(["dockerd", "-H", f"unix://{sock}", "--data-root", str(d / "data"),
              "--exec-root", str(d / "exec"), "--pidfile", str(d / "dockerd.pid"),
              "--bridge=none", "--iptables=false",
              "--add-runtime", f"bbe={os.path.join(installed, 'runc')}"])
    env = dict(os.environ, DOCKER_HOST=f"unix://{sock}")
    docker_cli = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker")

    def docker(*args, timeout=60):
        return subprocess.run([docker_cli, *args], capture_output=True, text=True, env=env,
                              timeout=timeout)
    try:
        wait_for(lambda: accepts(sock) or p.popen.poll() is not None, timeout=30, what="dockerd")
        assert p.popen.poll() is None
        wait_for(lambda: docker("version").returncode == 0, timeout=30, what="dockerd ready")
        r = docker("load", "-i", docker_archive(rootfs_template, str(tmp_path / "img.tar")))
        assert r.returncode == 0, r.stderr
        run = ["run", "--runtime", "bbe", "--network", "none"]
        r = docker(*run, "--rm", "busybox:test", "sh", "-c", "echo hi from docker; exit 4")
        assert (r.returncode, r.stdout) == (4, "hi from docker\n"), r.stderr
        # Docker's default seccomp profile and capability set, applied by us
        r = docker(*run, "--rm", "busybox:test", "grep", "-E", "^(Seccomp|CapEff):", "/proc/self/status")
        assert r.stdout.split() == ["CapEff:", "00000000a80425fb", "Seccomp:", "2"], r.stdout + r.stderr
        r = docker(*run, "-d", "--name", "s1", "busybox:test", "sleep", "100")
        assert r.returncode == 0, r.stderr
        r = docker("exec", "s1", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '")
        assert r.stdout == "sleep 100 ", r.stderr
        assert docker("exec", "-t", "s1", "tty").stdout.strip() == "/dev/pts/0"
        assert docker("pause", "s1").returncode == 0
        assert "Paused" in docker("ps", "--format", "{{.Status}}").stdout
        assert docker("unpause", "s1").returncode == 0
        assert docker("rm", "-f", "s1").returncode == 0
        r = docker(*run, "--rm", "-t", "busybox:test", "tty")
        assert r.stdout.strip() == "/dev/pts/0", r.stderr
        r = docker(*run, "--rm", "-m", "8m", "busybox:test", "true")
        assert r.returncode == 0, r.stderr
    finally:
        p.stop()
        reap()
        for m in reversed(mounts_under(str(d))):
            subprocess.run(["umount", "-l", m], check=False)
