"""Docker's defaults in every spec, and the flags that change them:
seccomp and capabilities (default vs --privileged), -m, --read-only,
--tmpfs, --user, --init, health checks."""
import json
import time

import pytest

DEFAULT_CAPS = 0xA80425FB     # Docker's 14 default capabilities


def status_field(dockerd, *args, field: str) -> str:
    r = dockerd.docker("run", "--rm", *args, "busybox", "grep", f"^{field}:", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    return r.stdout.split()[1]


def test_default_vs_privileged(dockerd):
    assert status_field(dockerd, field="Seccomp") == "2"
    assert int(status_field(dockerd, field="CapEff"), 16) == DEFAULT_CAPS
    assert status_field(dockerd, "--privileged", field="Seccomp") == "0"
    assert int(status_field(dockerd, "--privileged", field="CapEff"), 16) > DEFAULT_CAPS
    assert status_field(dockerd, "--security-opt", "seccomp=unconfined", field="Seccomp") == "0"
    caps = int(status_field(dockerd, "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", field="CapEff"), 16)
    assert caps == 1 << 12
    # the default profile refuses what crosses the container's boundary, allows the rest
    r = dockerd.docker("run", "--rm", "busybox", "sh", "-c", "unshare -U true; echo $?; mount -t tmpfs t /tmp; echo $?")
    assert r.stdout.split() == ["1", "1"] or r.stdout.split()[1] != "0", r.stdout
    r = dockerd.docker("run", "--rm", "--privileged", "busybox", "sh", "-c", "mount -t tmpfs t /tmp && echo mounted")
    assert r.stdout == "mounted\n", r.stderr
    r = dockerd.docker("run", "--rm", "busybox", "cat", "/proc/kcore")
    assert r.returncode != 0   # masked


def test_resources_readonly_tmpfs_user(dockerd):
    r = dockerd.docker("run", "-d", "--name", "lim", "-m", "8m", "busybox", "sleep", "100")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    limit = open(f"/sys/fs/cgroup/memory/docker/{cid}/memory.limit_in_bytes").read().strip()
    assert limit == str(8 * 1024 * 1024)
    assert json.loads(dockerd.docker("inspect", "lim").stdout)[0]["HostConfig"]["Memory"] == 8 * 1024 * 1024
    assert dockerd.docker("rm", "-f", "lim").returncode == 0
    r = dockerd.docker("run", "--rm", "--read-only", "--tmpfs", "/scratch", "busybox", "sh", "-c",
                       "touch /x 2>/dev/null && echo root-writable; touch /scratch/y && echo tmpfs-ok")
    assert r.stdout == "tmpfs-ok\n", r.stderr
    assert dockerd.docker("run", "--rm", "--user", "1000:1001", "busybox", "id", "-u").stdout == "1000\n"
    assert dockerd.docker("run", "--rm", "--user", "nobody", "busybox", "id", "-u").stdout == "65534\n"
    r = dockerd.docker("run", "--rm", "--user", "nosuchuser", "busybox", "true")
    assert r.returncode != 0 and "nosuchuser" in r.stderr


def _block_device() -> tuple:
    """(path, "major:minor") of a whole disk of this host."""
    import os
    for name in sorted(os.listdir("/sys/block")):
        if os.path.exists(f"/dev/{name}"):
            with open(f"/sys/block/{name}/dev") as f:
                return f"/dev/{name}", f.read().strip()
    pytest.fail("no block device in /sys/block")


def test_block_io_limits_and_device_rules(dockerd):
    import os
    dev, numbers = _block_device()
    r = dockerd.docker("run", "-d", "--name", "bio", "--device-read-bps", f"{dev}:1mb",
                       "--device-write-iops", f"{dev}:100", "--blkio-weight", "300",
                       "--device-cgroup-rule", "c 42:* rmw", "busybox", "sleep", "100")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    blkio = f"/sys/fs/cgroup/blkio/docker/{cid}"
    with open(f"{blkio}/blkio.throttle.read_bps_device") as f:
        assert f.read().split() == [numbers, "1048576"]
    with open(f"{blkio}/blkio.throttle.write_iops_device") as f:
        assert f.read().split() == [numbers, "100"]
    # where the hierarchy's root has no weight file (BFQ shows its own only
    # below the root), dockerd drops the weight with Docker's warning
    weighted = any(os.path.exists(f"/sys/fs/cgroup/blkio/{n}") for n in ("blkio.weight", "blkio.bfq.weight"))
    warned = "Block I/O weight or the cgroup is not mounted. Weight discarded." in r.stderr
    assert weighted != warned, r.stderr
    with open(f"/sys/fs/cgroup/devices/docker/{cid}/devices.list") as f:
        assert "c 42:* rwm" in f.read().splitlines()
    hc = json.loads(dockerd.docker("inspect", "bio").stdout)[0]["HostConfig"]
    assert hc["BlkioDeviceReadBps"] == [{"Path": dev, "Rate": 1048576}]
    assert hc["DeviceCgroupRules"] == ["c 42:* rmw"]
    assert dockerd.docker("rm", "-f", "bio").returncode == 0
    r = dockerd.docker("create", "--cpu-rt-period", "1000", "--cpu-rt-runtime", "5000", "busybox")
    assert r.returncode != 0
    assert "cpu real-time runtime cannot be higher than cpu real-time period" in r.stderr
    r = dockerd.docker("create", "--device-read-bps", "/dev/nosuchdisk:1mb", "busybox")
    assert r.returncode != 0 and "/dev/nosuchdisk" in r.stderr


def test_init_runs_as_pid_1_and_reaps(dockerd):
    r = dockerd.docker("run", "--rm", "--init", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '")
    if r.returncode != 0 and "docker-init" in r.stderr:
        pytest.fail("no docker-init (tini) on this host: .ci/run installs docker.io, which brings it")
    assert r.stdout.startswith("/sbin/docker-init -- sh -c"), r.stdout + r.stderr
    assert dockerd.docker("run", "--rm", "--init", "busybox", "sh", "-c", "exit 5").returncode == 5


def test_health_checks(dockerd):
    r = dockerd.docker("run", "-d", "--name", "hc", "--health-cmd", "test -f /tmp/ok",
                       "--health-interval", "300ms", "--health-retries", "2", "busybox", "sleep", "100")
    assert r.returncode == 0, r.stderr

    def health():
        return json.loads(dockerd.docker("inspect", "hc").stdout)[0]["State"]["Health"]
    deadline = time.time() + 15
    while health()["Status"] != "unhealthy" and time.time() < deadline:
        time.sleep(0.2)
    assert health()["Status"] == "unhealthy" and health()["FailingStreak"] >= 2
    assert dockerd.docker("exec", "hc", "touch", "/tmp/ok").returncode == 0
    while health()["Status"] != "healthy" and time.time() < deadline:
        time.sleep(0.2)
    h = health()
    assert h["Status"] == "healthy" and h["Log"][-1]["ExitCode"] == 0
    assert "(healthy)" in dockerd.docker("ps", "--format", "{{.Status}}").stdout
    assert dockerd.docker("rm", "-f", "hc").returncode == 0
