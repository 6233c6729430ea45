"""runc exec: a new process inside a running container."""
import json
import os

from tests.helpers import wait_for


def running(runc, args=("sleep", "100")):
    b = runc.bundle(list(args))
    runc("run", "-d", "-b", b, "c1")
    return b


def test_exec_joins_namespaces_and_cgroup(runc):
    running(runc)
    pid = runc.state("c1")["pid"]
    r = runc("exec", "c1", "sh", "-c", "echo $$; hostname; cat /proc/1/cmdline; echo; "
             "exec ls /proc/self/fd")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[0] != "1"
    assert lines[1] == "runc" and lines[2] == "sleep\x00100\x00"
    assert lines[3:-1] == ["0", "1", "2", "3"]  # stdio and ls's own directory
    # in the container's cgroups, beside its init
    pids = json.loads(runc("ps", "--format", "json", "c1").stdout)
    assert pid in pids


def test_exec_exit_code_user_env_cwd(runc):
    running(runc)
    r = runc("exec", "c1", "sh", "-c", "exit 5", check=False)
    assert r.returncode == 5
    r = runc("exec", "-u", "1000:1000", "-e", "FOO=bar", "--cwd", "/tmp", "c1",
             "sh", "-c", "id -u; id -g; echo $FOO; pwd")
    assert r.stdout.split() == ["1000", "1000", "bar", "/tmp"]


def test_exec_with_a_process_file(runc, tmp_path):
    running(runc)
    proc = {"args": ["sh", "-c", "echo from-file $GREETING"], "env": ["GREETING=hi"], "cwd": "/",
            "user": {"uid": 0, "gid": 0}}
    f = tmp_path / "process.json"
    f.write_text(json.dumps(proc))
    r = runc("exec", "--process", str(f), "c1")
    assert r.stdout == "from-file hi\n"


def test_exec_detached_with_pid_file(runc, tmp_path):
    running(runc)
    pidfile = tmp_path / "exec.pid"
    r = runc("exec", "-d", "--pid-file", str(pidfile), "c1", "sleep", "50",
             stdout=open(os.devnull, "w"), stderr=open(os.devnull, "w"), capture_output=False)
    assert r.returncode == 0
    pid = int(pidfile.read_text())
    with open(f"/proc/{pid}/cmdline") as fh:
        assert fh.read() == "sleep\x0050\x00"
    assert pid in json.loads(runc("ps", "--format", "json", "c1").stdout)


def test_exec_errors(runc):
    running(runc)
    # runc's own failures are 255 ("exec failed: ..."), as runc 1.1 exits
    r = runc("exec", "c1", "nosuchprogram", check=False)
    assert r.returncode == 255 and "executable file not found" in r.stderr
    r = runc("exec", "nosuch", "true", check=False)
    assert r.returncode == 255 and "exec failed: container does not exist" in r.stderr
    runc("kill", "c1", "KILL")
    wait_for(lambda: runc.state("c1")["status"] == "stopped", what="stopped")
    r = runc("exec", "c1", "true", check=False)
    assert r.returncode == 255 and "exec failed: cannot exec in a stopped container" in r.stderr
