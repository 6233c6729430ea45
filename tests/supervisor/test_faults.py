"""containerd killed (-9) at random moments while containers are being
created, started, exec'd into and deleted: after a restart every task is
in a state with a way out, and once they are removed nothing is left
(processes, mounts, cgroups, state)."""
import glob
import os
import random
import signal
import subprocess
import time

import pytest

from tests.fixtures.images import docker_archive
from tests.helpers import children, comm, wait_for
from tests.runtime.conftest import mounts_under

ROUNDS = 20


def processes_using(path: str, but: tuple = ()) -> list:
    """Processes (not us, nor those in but) with a file, cwd or root under path."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) in (os.getpid(), *but):
            continue
        try:
            links = [os.readlink(f"/proc/{pid}/{x}") for x in ("cwd", "root")]
            links += [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(link.startswith(path) for link in links):
            found.append(int(pid))
    return found


def cgroups_of(ns: str) -> list:
    return [d for d in glob.glob(f"/sys/fs/cgroup/*/{ns}/*") if os.path.isdir(d)]


def ctr(containerd, *args) -> subprocess.Popen:
    return subprocess.Popen(containerd.engine.argv("ctr", "-a", str(containerd.sock), *args),
                            env=containerd.engine.env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_kill_9_of_containerd_at_random_moments(containerd, rootfs_template, tmp_path):
    seed = int(os.environ.get("FAULT_SEED") or time.time())
    rng = random.Random(seed)
    image = docker_archive(rootfs_template, str(tmp_path / "busybox.tar"), tag="busybox:latest")
    leftovers = 0
    for rnd in range(ROUNDS):
        ns = f"fault{rnd}"
        c = containerd.start()
        c.call("images.import", path=image, namespace=ns)

        def run(*args) -> subprocess.Popen:
            return ctr(containerd, "-n", ns, *args)
        # before: two running containers to exec into, one stopped to delete
        for p in [run("run", "-d", "busybox:latest", "p0", "sleep", "1000"),
                  run("run", "-d", "--rootfs", rootfs_template, "p1", "sleep", "1000"),
                  run("run", "-d", "--rootfs", rootfs_template, "p2", "true")]:
            assert p.wait(30) == 0, p.stderr.read()
        wait_for(lambda: c.call("tasks.state", container_id="p2", namespace=ns)["status"] == "stopped",
                 what="p2 stopped")
        # then, all at once: creates and starts, execs, a delete; and the kill
        busy = [run("run", "-d", *(["busybox:latest"] if i % 2 else ["--rootfs", rootfs_template]),
                    f"n{i}", "sleep", "1000") for i in range(6)]
        busy += [run("tasks", "exec", "--exec-id", f"e{i}", f"p{i}", "sh", "-c", "sleep 0.2; echo hi")
                 for i in range(2)]
        busy += [run("tasks", "rm", "p2")]
        time.sleep(rng.uniform(0.0, 1.5))
        c.close()
        containerd.stop(signal.SIGKILL)
        for p in busy:
            p.wait(30)
            p.stderr.close()
        # restarted, it is up at once, and every task it lists has a way out
        t0 = time.monotonic()
        c = containerd.start()
        assert time.monotonic() - t0 < 10, f"seed {seed} round {rnd}: slow recovery"
        tasks = c.call("tasks.list", namespace=ns)
        for t in tasks:
            assert t["pid"] > 0 and t["status"] in ("created", "running", "stopped"), (seed, rnd, t)
        states = {t["id"]: t["status"] for t in tasks}
        assert states.get("p0") == "running" and states.get("p1") == "running", (seed, rnd, states)
        for t in tasks:
            c.call("tasks.delete", container_id=t["id"], namespace=ns, force=True)
        for record in c.call("containers.list", namespace=ns):
            c.call("containers.delete", id=record["id"], namespace=ns)
        c.call("images.delete", name="busybox:latest", namespace=ns)
        # nothing left: tasks, shims, containers, mounts, cgroups, snapshots, state
        assert c.call("tasks.list", namespace=ns) == []
        assert [s for s in c.call("snapshots.list") if s["kind"] == "active"] == []
        # containerd and its shim zygote (forked at start, it shares containerd's files)
        ours = (containerd.proc.pid, *[p for p in children(containerd.proc.pid) if comm(p) == "shim-zygote"])
        try:
            wait_for(lambda: not processes_using(str(tmp_path), ours), timeout=5, what="processes gone")
        except AssertionError:
            pass   # the check below names them
        left = ([(pid, comm(pid)) for pid in processes_using(str(tmp_path), ours)] + mounts_under(str(tmp_path)) + cgroups_of(ns)
                + glob.glob(str(tmp_path / "state" / "s" / "*"))
                + glob.glob(str(tmp_path / "state" / "tasks" / "*" / "*")))
        leftovers += len(left)
        assert left == [], f"seed {seed} round {rnd}: left behind {left}"
        for d in glob.glob(f"/sys/fs/cgroup/*/{ns}"):
            os.rmdir(d)
        c.close()
        containerd.stop()
    print(f"{ROUNDS} rounds (seed {seed}), {leftovers} things left behind")


@pytest.fixture(autouse=True)
def _namespaces_cleaned():
    yield
    for d in glob.glob("/sys/fs/cgroup/*/fault*/*"):
        try:
            os.rmdir(d)
        except OSError:
            pass
    for d in glob.glob("/sys/fs/cgroup/*/fault*"):
        try:
            os.rmdir(d)
        except OSError:
            pass
