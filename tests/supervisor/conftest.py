import os
import signal
import subprocess

import pytest

from busybox_engine.rpc.client import Client
from tests.helpers import Proc, accepts, wait_for
from tests.runtime.conftest import mounts_under, reap, rootfs_template, subreaper  # noqa: F401 - shared fixtures


class Containerd:
    def __init__(self, engine, tmp_path):
        self.engine = engine
        self.tmp = tmp_path
        self.sock = tmp_path / "containerd.sock"
        self.proc = None

    def start(self, *extra):
        # a file, not a pipe: a daemon must never block on output nobody reads
        self.log = open(self.tmp / "containerd.log", "ab")
        self.proc = Proc(self.engine.argv("containerd", "--address", str(self.sock),
                                          "--root", str(self.tmp / "root"), "--state", str(self.tmp / "state"),
                                          *extra),
                         env=self.engine.env, stdout=self.log, stderr=self.log)
        wait_for(lambda: accepts(self.sock) or self.proc.popen.poll() is not None, what="containerd")
        assert self.proc.popen.poll() is None, (self.tmp / "containerd.log").read_text()
        return Client(str(self.sock), timeout=30)

    def client(self):
        return Client(str(self.sock), timeout=30)

    def stop(self, sig=signal.SIGTERM):
        if self.proc:
            self.proc.stop(sig)

    def cleanup(self):
        """Kill whatever shims and containers a failed test left."""
        self.stop()
        if getattr(self, "log", None):
            self.log.close()
        state = self.tmp / "state"
        for shim_dir in state.glob("tasks/*/*/shim"):
            root = shim_dir / "runc"
            if root.is_dir():
                for cid in os.listdir(root):
                    subprocess.run(self.engine.argv("runc", "--root", str(root), "delete", "--force", cid),
                                   env=self.engine.env, capture_output=True)
            try:  # the shim itself, by the pid it wrote (if it still is that process)
                pid, start = (int(x) for x in (shim_dir / "shim.pid").read_text().split())
                with open(f"/proc/{pid}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[19]) == start:
                        os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass
        reap()


def namespace_cgroups() -> set:
    """The top-level cgroups of every hierarchy: among them the parents
    containerd's default spec puts containers under (/NAMESPACE/ID)."""
    import glob
    return {p for p in glob.glob("/sys/fs/cgroup/*/*") if os.path.isdir(p) and not os.path.islink(p)}


@pytest.fixture
def containerd(engine, tmp_path):
    yield from _containerd(engine, tmp_path)


@pytest.fixture
def binary_containerd(installed, tmp_path):
    """Our containerd as built (for what only the built binary shows, such
    as a shim's memory)."""
    from tests.engine import BinaryEngine
    yield from _containerd(BinaryEngine(installed), tmp_path)


def _containerd(engine, tmp_path):
    before = namespace_cgroups()
    d = Containerd(engine, tmp_path)
    yield d
    d.cleanup()
    # like containerd's, our namespace cgroups outlive their containers; the
    # test's go with it, and a container cgroup left in one is a failure
    made = sorted(namespace_cgroups() - before)
    leftover = [os.path.join(p, c) for p in made for c in os.listdir(p)
                if os.path.isdir(os.path.join(p, c))]
    for p in made:
        for c in os.listdir(p):
            if os.path.isdir(os.path.join(p, c)):
                os.rmdir(os.path.join(p, c))
        os.rmdir(p)
    assert leftover == []
    left = mounts_under(str(tmp_path))
    for m in reversed(left):  # the host stays clean even when the test fails
        subprocess.run(["umount", "-l", m], check=False)
    assert left == []




@pytest.fixture
def real_dockerd(tmp_path):
    """Debian's dockerd 20.10 in its own directories (no networking set up);
    yields docker(*args) -> CompletedProcess with the real CLI."""
    import shutil
    if shutil.which("dockerd") is None:
        pytest.fail("dockerd (docker.io) is not installed: .ci/run installs it")
    import pathlib
    import tempfile
    # short: dockerd's own containerd socket lives under the exec root (108-byte limit)
    d = pathlib.Path(tempfile.mkdtemp(prefix="bbe-dk-"))
    sock = d / "docker.sock"
    p = Proc(["dockerd", "-H", f"unix://{sock}", "--data-root", str(d / "data"), "--exec-root", str(d / "exec"),
              "--pidfile", str(d / "pid"), "--bridge=none", "--iptables=false"],
             stdout=open(d / "dockerd.log", "wb"), stderr=subprocess.STDOUT)
    env = dict(os.environ, DOCKER_HOST=f"unix://{sock}")
    cli = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker")
    cgroups_before = namespace_cgroups()

    def docker(*args, timeout=120):
        return subprocess.run([cli, *args], capture_output=True, text=True, env=env, timeout=timeout)
    docker.host = env["DOCKER_HOST"]
    try:
        wait_for(lambda: docker("version").returncode == 0 or p.popen.poll() is not None, timeout=60,
                 what="dockerd")
        assert p.popen.poll() is None, (d / "dockerd.log").read_text()[-2000:]
        yield docker
    finally:
        p.stop()
        left = mounts_under(str(d))
        for m in reversed(left):
            subprocess.run(["umount", "-l", m], check=False)
        shutil.rmtree(d, ignore_errors=True)
        for made in namespace_cgroups() - cgroups_before:  # dockerd's /docker parent, now empty
            try:
                os.rmdir(made)
            except OSError:
                pass
