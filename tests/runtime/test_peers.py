"""Real peers drive our runc: containerd's io.containerd.runc.v2 shim."""
import os
import shutil
import subprocess

import pytest

from tests.helpers import Proc, accepts, wait_for
from tests.runtime.conftest import mounts_under, reap

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


def test_containerd_shim_runs_containers_with_our_runc(installed, real_containerd, rootfs_template):
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
