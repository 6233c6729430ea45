"""Our dockerd on our containerd, each test in its own directories, driven
by the real docker CLIs (Debian's 20.10 and the 28.x one) and docker-py;
a busybox image made offline from busybox-static, in the `moby` namespace."""
import os
import signal
import subprocess

import pytest

from busybox_engine.rpc.client import Client
from tests.fixtures.images import docker_archive
from tests.helpers import Proc, accepts, wait_for
from tests.runtime.conftest import mounts_under, rootfs_template  # noqa: F401 - shared fixtures
from tests.supervisor.conftest import Containerd, namespace_cgroups

CLIS = [c for c in ("/usr/bin/docker", "/usr/local/bin/docker") if os.path.exists(c)]


@pytest.fixture(scope="session")
def busybox_archive(rootfs_template, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("images") / "busybox.tar")
    return docker_archive(rootfs_template, out, tag="busybox:latest", cmd=("sh",))


class Dockerd:
    def __init__(self, engine, tmp_path, containerd):
        self.engine = engine
        self.tmp = tmp_path
        self.containerd = containerd
        self.sock = tmp_path / "docker.sock"
        self.host = f"unix://{self.sock}"
        self.proc = None
        self.log = None

    def start(self, *extra):
        # no default bridge unless the test is about networking: it would
        # outlive the daemon (as Docker's docker0 does)
        if not any(a.startswith(("--bridge", "-b", "--bip")) for a in extra):
            extra = ("--bridge=none", *extra)
        if self.log is None:
            self.log = open(self.tmp / "dockerd.log", "ab")
        self.proc = Proc(self.engine.argv("dockerd", "-H", self.host, "--data-root", str(self.tmp / "data"),
                                          "--exec-root", str(self.tmp / "exec"),
                                          "--pidfile", str(self.tmp / "dockerd.pid"),
                                          "--containerd", str(self.containerd.sock), *extra),
                         env=self.engine.env, stdout=self.log, stderr=self.log)
        wait_for(lambda: accepts(self.sock) or self.proc.popen.poll() is not None, what="dockerd")
        assert self.proc.popen.poll() is None, self.logs()

    def logs(self) -> str:
        return (self.tmp / "dockerd.log").read_text(errors="replace")[-3000:]

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None:
            self.proc.stop(sig)
            self.proc = None

    def docker(self, *args, cli=None, input=None, timeout=60, env=None):
        """The real docker CLI against us; a CompletedProcess (text)."""
        e = dict(os.environ, DOCKER_HOST=self.host, DOCKER_CONFIG=str(self.tmp / "dockercfg"))
        e.update(env or {})
        return subprocess.run([cli or CLIS[0], *args], capture_output=True, text=True, env=e,
                              input=input, timeout=timeout)


@pytest.fixture
def dockerd(engine, tmp_path, busybox_archive):
    if not CLIS:
        pytest.fail("no docker CLI: .ci/run installs docker.io")
    before = namespace_cgroups()
    ctd = Containerd(engine, tmp_path)
    ctd.start()
    with Client(str(ctd.sock), timeout=60) as c:
        c.call("images.import", path=busybox_archive, namespace="moby")
    d = Dockerd(engine, tmp_path, ctd)
    try:
        d.start()
        yield d
    finally:
        d.stop()
        if d.log:
            d.log.close()
        # what a failed test left: every container of the namespace, then containerd
        try:
            with Client(str(ctd.sock), timeout=30) as c:
                for t in c.call("tasks.list", namespace="moby"):
                    c.call("tasks.delete", container_id=t["id"], namespace="moby", force=True)
        except Exception:  # noqa: BLE001 - cleanup goes on regardless
            pass
        ctd.cleanup()
        for m in reversed(mounts_under(str(tmp_path))):
            subprocess.run(["umount", "-l", m], check=False)
        for made in sorted(namespace_cgroups() - before):  # the /docker parent, now empty
            for child in os.listdir(made):
                if os.path.isdir(os.path.join(made, child)):
                    os.rmdir(os.path.join(made, child))
            os.rmdir(made)
