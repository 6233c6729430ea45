"""docker update through the real docker CLI: new limits reach a running
container's cgroup, are kept for its next start, and bad updates are
refused in Docker's words."""
import json


def _cgroup(dockerd, name, path):
    # a glob: cpu is cpu,cpuacct on some hosts
    r = dockerd.docker("exec", name, "sh", "-c", f"cat /sys/fs/cgroup/{path}")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_update_a_running_container(dockerd):
    r = dockerd.docker("run", "-d", "--name", "u1", "-m", "16m", "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    hc = json.loads(dockerd.docker("inspect", "u1").stdout)[0]["HostConfig"]
    assert (hc["Memory"], hc["MemorySwap"]) == (16 << 20, 32 << 20)
    assert _cgroup(dockerd, "u1", "memory/memory.limit_in_bytes") == str(16 << 20)
    r = dockerd.docker("update", "-m", "24m", "--cpu-shares", "512", "--pids-limit", "50",
                       "--restart", "on-failure:3", "u1")
    assert (r.returncode, r.stdout) == (0, "u1\n"), r.stderr
    assert _cgroup(dockerd, "u1", "memory/memory.limit_in_bytes") == str(24 << 20)
    assert _cgroup(dockerd, "u1", "cpu*/cpu.shares") == "512"
    assert _cgroup(dockerd, "u1", "pids/pids.max") == "50"
    hc = json.loads(dockerd.docker("inspect", "u1").stdout)[0]["HostConfig"]
    assert (hc["Memory"], hc["CpuShares"], hc["PidsLimit"]) == (24 << 20, 512, 50)
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    # above the swap limit it had: Docker's refusal, nothing changed
    r = dockerd.docker("update", "-m", "64m", "u1")
    assert r.returncode == 1 and "update the memoryswap at the same time" in r.stderr
    assert _cgroup(dockerd, "u1", "memory/memory.limit_in_bytes") == str(24 << 20)
    r = dockerd.docker("update", "-m", "64m", "--memory-swap", "128m", "u1")
    assert r.returncode == 0, r.stderr
    assert _cgroup(dockerd, "u1", "memory/memory.limit_in_bytes") == str(64 << 20)
    assert dockerd.docker("update", "-m", "1m", "u1").returncode == 1
    # kept across a restart
    assert dockerd.docker("restart", "-t", "0", "u1").returncode == 0
    assert _cgroup(dockerd, "u1", "memory/memory.limit_in_bytes") == str(64 << 20)
    assert _cgroup(dockerd, "u1", "cpu*/cpu.shares") == "512"
    dockerd.docker("rm", "-f", "u1")


def test_update_a_stopped_container_and_autoremove(dockerd):
    assert dockerd.docker("create", "--name", "u2", "busybox", "sleep", "300").returncode == 0
    assert dockerd.docker("update", "--cpuset-cpus", "0", "u2").returncode == 0
    assert dockerd.docker("start", "u2").returncode == 0
    assert _cgroup(dockerd, "u2", "cpuset/cpuset.cpus") == "0"
    dockerd.docker("rm", "-f", "u2")
    r = dockerd.docker("run", "-d", "--rm", "--name", "u3", "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    r = dockerd.docker("update", "--restart", "always", "u3")
    assert r.returncode == 1 and "AutoRemove is enabled" in r.stderr
    assert dockerd.docker("update", "-m", "8m", "nosuch").returncode == 1
    dockerd.docker("rm", "-f", "u3")
