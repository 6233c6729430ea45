"""dockerd killed or stopped under running containers: live restore,
restart policies, and the containerd it supervises itself."""
import json
import os
import signal
import subprocess
import time

from tests.helpers import Proc, accepts, children, wait_for

COUNTER = "i=0; while true; do echo $i; i=$((i+1)); sleep 0.05; done"


def state(dockerd, name: str) -> dict:
    return json.loads(dockerd.docker("inspect", name).stdout)[0]["State"]


def test_kill_9_of_dockerd_keeps_containers_and_their_logs(dockerd):
    names = [f"c{i}" for i in range(5)]
    for n in names:
        assert dockerd.docker("run", "-d", "--name", n, "busybox", "sh", "-c", COUNTER).returncode == 0
    assert dockerd.docker("run", "-d", "--name", "short", "busybox", "sh", "-c", "sleep 1; exit 9").returncode == 0
    pids = {n: state(dockerd, n)["Pid"] for n in names}
    dockerd.stop(signal.SIGKILL)
    time.sleep(2.5)           # output goes on to the logs; `short` exits meanwhile
    for pid in pids.values():
        os.kill(pid, 0)       # every container still runs
    t0 = time.monotonic()
    dockerd.start("--live-restore")
    r = dockerd.docker("ps", "--format", "{{.Names}}")
    assert time.monotonic() - t0 < 3.0, "docker ps took too long after the restart"
    assert sorted(r.stdout.split()) in (sorted(names), sorted(names + ["short"]))
    wait_for(lambda: state(dockerd, "short")["Status"] == "exited", what="the exit seen after restart")
    assert state(dockerd, "short")["ExitCode"] == 9
    assert sorted(dockerd.docker("ps", "--format", "{{.Names}}").stdout.split()) == sorted(names)
    for n in names:
        assert state(dockerd, n)["Pid"] == pids[n]
        lines = dockerd.docker("logs", n).stdout.split()
        assert len(lines) > 50 and lines == [str(i) for i in range(len(lines))], lines[:5]   # no gap
    # live-restore: a clean stop leaves them running too
    dockerd.stop()
    for pid in pids.values():
        os.kill(pid, 0)
    dockerd.start()
    assert dockerd.docker("rm", "-f", *names, "short").returncode == 0


def test_restart_policies_and_daemon_stop(dockerd):
    assert dockerd.docker("run", "-d", "--name", "fails", "--restart", "on-failure:2", "busybox",
                          "sh", "-c", "exit 1").returncode == 0
    assert dockerd.docker("run", "-d", "--name", "always", "--restart", "always", "busybox",
                          "sh", "-c", "sleep 0.2").returncode == 0
    assert dockerd.docker("run", "-d", "--name", "forever", "--restart", "unless-stopped", "--stop-timeout", "1", "busybox",
                          "sleep", "100").returncode == 0
    wait_for(lambda: json.loads(dockerd.docker("inspect", "fails").stdout)[0]["RestartCount"] == 2
             and state(dockerd, "fails")["Status"] == "exited", timeout=20, what="two restarts, then exited")
    time.sleep(1)
    info = json.loads(dockerd.docker("inspect", "fails").stdout)[0]
    assert info["RestartCount"] == 2 and info["State"]["ExitCode"] == 1
    wait_for(lambda: json.loads(dockerd.docker("inspect", "always").stdout)[0]["RestartCount"] >= 2,
             timeout=20, what="always restarts")
    pid = state(dockerd, "forever")["Pid"]
    # a clean stop without live-restore stops them; always/unless-stopped come back with the daemon
    dockerd.stop()
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), what="container stopped with the daemon")
    dockerd.start()
    wait_for(lambda: state(dockerd, "forever")["Running"], what="unless-stopped back")
    assert state(dockerd, "forever")["Pid"] != pid
    assert dockerd.docker("stop", "-t", "1", "always").returncode == 0
    time.sleep(0.6)
    assert state(dockerd, "always")["Status"] == "exited"    # stopped by hand: no restart
    assert dockerd.docker("rm", "-f", "fails", "always", "forever").returncode == 0


def test_dockerd_starts_and_supervises_its_own_containerd(engine, tmp_path, busybox_archive):
    from tests.supervisor.conftest import namespace_cgroups
    before = namespace_cgroups()
    sock = tmp_path / "d.sock"
    log = open(tmp_path / "dockerd.log", "wb")
    p = Proc(engine.argv("dockerd", "--bridge=none", "-H", f"unix://{sock}", "--data-root", str(tmp_path / "data"),
                         "--exec-root", str(tmp_path / "exec"), "--pidfile", str(tmp_path / "pid")),
             env=engine.env, stdout=log, stderr=log)
    env = dict(os.environ, DOCKER_HOST=f"unix://{sock}")

    def docker(*args, **kw):
        return subprocess.run(["/usr/bin/docker", *args], capture_output=True, text=True, env=env,
                              timeout=60, **kw)
    try:
        wait_for(lambda: accepts(sock) or p.popen.poll() is not None, what="dockerd")
        with open(busybox_archive, "rb") as f:
            r = docker("load", stdin=f)
        assert r.returncode == 0, r.stderr + (tmp_path / "dockerd.log").read_text()
        r = docker("run", "--rm", "busybox", "echo", "own")
        assert r.stdout == "own\n", r.stderr
        kids = children(p.pid)
        assert len(kids) == 1
        os.kill(kids[0], signal.SIGKILL)       # its containerd dies: it comes back
        wait_for(lambda: children(p.pid) and children(p.pid) != kids, what="containerd restarted")
        assert docker("run", "--rm", "busybox", "echo", "again").stdout == "again\n"
        kid = children(p.pid)[0]
    finally:
        rc = p.stop()
        log.close()
    assert rc == 0
    assert not os.path.exists(f"/proc/{kid}") or open(f"/proc/{kid}/stat").read().split()[2] == "Z"
    for m in reversed([line.split()[4] for line in open("/proc/self/mountinfo")
                       if line.split()[4].startswith(str(tmp_path))]):
        subprocess.run(["umount", "-l", m], check=False)
    # the /docker parent its containers were under goes; a container cgroup left in it fails
    made = sorted(namespace_cgroups() - before)
    for d in made:
        os.rmdir(d)
