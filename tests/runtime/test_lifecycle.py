"""runc's lifecycle: run, create/start, state, list, kill, delete, pause."""
import json
import os
import time


from tests.helpers import wait_for


def test_run_prints_and_exits_with_the_program_status(runc):
    b = runc.bundle(["sh", "-c", "echo hello; echo oops >&2; exit 3"])
    r = runc("run", "-b", b, "c1", check=False)
    assert r.returncode == 3
    assert r.stdout == "hello\n" and r.stderr == "oops\n"
    assert runc("list", "-q").stdout == ""  # run deletes what it created


def test_run_exit_code_for_a_signal_is_128_plus_n(runc):
    import subprocess
    b = runc.bundle(["sleep", "100"])
    p = subprocess.Popen(runc.engine.argv("runc", "--root", runc.root, "run", "-b", b, "c1"),
                         env=runc.engine.env)
    runc.ids.add("c1")
    try:
        wait_for(lambda: os.path.exists(os.path.join(runc.root, "c1", "state.json"))
                 and runc.state("c1")["status"] == "running", what="running")
        runc("kill", "c1", "KILL")
        assert p.wait(30) == 128 + 9
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_create_does_not_run_the_program_until_start(runc, tmp_path):
    b = runc.bundle(["sh", "-c", "echo ran > /tmp/marker; sleep 100"], root={"path": "rootfs"})
    pidfile = tmp_path / "pid"
    runc("create", "-b", b, "--pid-file", str(pidfile), "c1")
    st = runc.state("c1")
    assert st["status"] == "created" and st["pid"] == int(pidfile.read_text())
    assert st["bundle"] == b and st["id"] == "c1" and st["ociVersion"]
    time.sleep(0.2)
    assert not os.path.exists(os.path.join(b, "rootfs/tmp/marker"))
    runc("start", "c1")
    wait_for(lambda: os.path.exists(os.path.join(b, "rootfs/tmp/marker")), what="program output")
    assert runc.state("c1")["status"] == "running"
    # no runc left: the init's parent is whoever reaps orphans (us)
    with open(f"/proc/{st['pid']}/stat") as f:
        assert int(f.read().rsplit(")", 1)[1].split()[1]) == os.getpid()
    r = runc("start", "c1", check=False)
    assert r.returncode == 1 and "already running" in r.stderr
    r = runc("delete", "c1", check=False)
    assert r.returncode == 1 and "that is not stopped: running" in r.stderr
    runc("kill", "c1", "KILL")
    wait_for(lambda: runc.state("c1")["status"] == "stopped", what="stopped")
    runc("delete", "c1")
    r = runc("state", "c1", check=False)
    assert r.returncode == 1 and "container does not exist" in r.stderr


def test_list_formats(runc):
    b = runc.bundle(["sleep", "100"])
    runc("create", "-b", b, "c1")
    table = runc("list").stdout.splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    assert table[1].split()[0:3] == ["c1", str(runc.state("c1")["pid"]), "created"]
    assert runc("list", "-q").stdout == "c1\n"
    rows = json.loads(runc("list", "--format", "json").stdout)
    assert [r["id"] for r in rows] == ["c1"] and rows[0]["status"] == "created"


def test_kill_by_name_and_number_and_all(runc):
    b = runc.bundle(["sh", "-c", "trap 'echo usr1 >> /tmp/got' USR1; "
                     "while true; do sleep 1 & wait; done"], root={"path": "rootfs"})
    got = os.path.join(b, "rootfs/tmp/got")
    runc("run", "-d", "-b", b, "c1")
    time.sleep(0.2)  # let sh install its trap
    runc("kill", "c1", "SIGUSR1")
    wait_for(lambda: os.path.exists(got), what="first USR1")
    runc("kill", "c1", "10")  # USR1 by number
    wait_for(lambda: open(got).read() == "usr1\nusr1\n", what="second USR1")
    runc("kill", "--all", "c1", "KILL")
    wait_for(lambda: runc.state("c1")["status"] == "stopped", what="stopped")
    r = runc("kill", "c1", "NOSUCH", check=False)
    assert r.returncode == 1


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_pause_and_resume(runc):
    b = runc.bundle(["sh", "-c", "while :; do :; done"])  # busy: its CPU time grows while it runs
    runc("run", "-d", "-b", b, "c1")
    pid = runc.state("c1")["pid"]
    runc("pause", "c1")
    assert runc.state("c1")["status"] == "paused"
    frozen_at = cpu_ticks(pid)
    time.sleep(0.5)
    assert cpu_ticks(pid) == frozen_at  # frozen: not a tick of CPU
    runc("resume", "c1")
    assert runc.state("c1")["status"] == "running"
    wait_for(lambda: cpu_ticks(pid) > frozen_at + 5, what="running again")
    r = runc("resume", "c1", check=False)
    assert r.returncode == 1 and "not paused" in r.stderr


def test_delete_force_of_a_running_container(runc):
    b = runc.bundle(["sleep", "100"])
    runc("run", "-d", "-b", b, "c1")
    pid = runc.state("c1")["pid"]
    runc("delete", "--force", "c1")
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
             open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z", what="init dead")
    assert runc("list", "-q").stdout == ""


def test_ps_lists_the_container_processes(runc):
    b = runc.bundle(["sleep", "100"])
    runc("run", "-d", "-b", b, "c1")
    pids = json.loads(runc("ps", "--format", "json", "c1").stdout)
    assert pids == [runc.state("c1")["pid"]]


def test_spec_writes_runc_default_and_refuses_to_overwrite(runc, tmp_path):
    d = tmp_path / "specdir"
    d.mkdir()
    runc("spec", "-b", str(d))
    spec = json.loads((d / "config.json").read_text())
    assert spec["process"]["args"] == ["sh"] and spec["root"] == {"path": "rootfs", "readonly": True}
    r = runc("spec", "-b", str(d), check=False)
    assert r.returncode == 1 and "exists" in r.stderr


def test_unknown_command_and_usage(runc):
    r = runc("frobnicate", check=False)
    assert r.returncode == 3 and "No help topic for 'frobnicate'" in r.stderr
    r = runc("start", check=False)
    assert r.returncode == 1 and 'requires exactly 1 argument' in r.stderr


def test_json_log_format(runc, tmp_path):
    log = tmp_path / "runc.log"
    import subprocess
    r = subprocess.run(runc.engine.argv("runc", "--root", runc.root, "--log", str(log),
                                        "--log-format", "json", "state", "nosuch"),
                       env=runc.engine.env, capture_output=True, text=True)
    assert r.returncode == 1
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["level"] == "error" and entry["msg"] == "container does not exist"
    assert r.stderr == "container does not exist\n"


def test_features_is_json(runc):
    f = json.loads(runc("features").stdout)
    assert "pid" in f["linux"]["namespaces"] and "rbind" in f["mountOptions"]



def test_update_changes_cgroup_limits(runc, tmp_path):
    b = runc.bundle(["sleep", "100"])
    runc("run", "-d", "-b", b, "c1")
    with open(os.path.join(runc.root, "c1", "state.json")) as f:
        paths = json.load(f)["cgroup_paths"]
    runc("update", "--memory", "96m", "--pids-limit", "17", "c1")
    assert open(os.path.join(paths["memory"], "memory.limit_in_bytes")).read().strip() == str(96 << 20)
    assert open(os.path.join(paths["pids"], "pids.max")).read().strip() == "17"
    res = tmp_path / "r.json"
    res.write_text(json.dumps({"cpu": {"shares": 256}, "pids": {"limit": 33}}))
    runc("update", "-r", str(res), "c1")
    assert open(os.path.join(paths["cpu"], "cpu.shares")).read().strip() == "256"
    assert open(os.path.join(paths["pids"], "pids.max")).read().strip() == "33"
    r = runc("update", "--memory", "lots", "c1", check=False)
    assert r.returncode == 1


def test_events_stats(runc):
    b = runc.bundle(["sleep", "100"])
    runc("run", "-d", "-b", b, "c1")
    ev = json.loads(runc("events", "--stats", "c1").stdout)
    assert ev["type"] == "stats" and ev["id"] == "c1"
    assert ev["data"]["pids"]["current"] == 1
    assert ev["data"]["memory"]["usage"]["usage"] > 0


def test_a_plain_directory_named_like_a_controller_is_no_hierarchy(runc):
    """Another runtime's tests once left /sys/fs/cgroup/hugetlb, net_cls...
    as plain directories: hierarchies come from mountinfo, so containers
    are created all the same, and nothing is written in them."""
    import shutil
    made = []
    try:
        for name in ("net_cls", "hugetlb", "rdma", "perf_event"):
            path = f"/sys/fs/cgroup/{name}"
            if not os.path.exists(path):
                os.mkdir(path)
                made.append(path)
        assert made, "every stand-in is a real hierarchy here"
        b = runc.bundle(["sh", "-c", "echo ok"])
        r = runc("run", "-b", b, "c1", check=False)
        assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr
        for path in made:
            assert os.listdir(path) == []
    finally:
        for path in made:
            shutil.rmtree(path, ignore_errors=True)
