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
