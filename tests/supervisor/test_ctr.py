"""ctr against our containerd: run, exit codes, stdin, -d, tasks, containers."""
import subprocess

from tests.helpers import wait_for


def ctr(containerd, *args, input=None, timeout=60):
    return subprocess.run(containerd.engine.argv("ctr", "-a", str(containerd.sock), *args),
                          env=containerd.engine.env, capture_output=True, text=True,
                          input=input, timeout=timeout)


def test_ctr_run_rm_prints_and_exits_with_the_status(containerd, rootfs_template):
    containerd.start()
    r = ctr(containerd, "run", "--rm", "--rootfs", rootfs_template, "t1", "echo", "hi")
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    r = ctr(containerd, "run", "--rm", "--rootfs", rootfs_template, "t2", "sh", "-c", "echo err >&2; exit 7")
    assert (r.returncode, r.stderr) == (7, "err\n")
    r = ctr(containerd, "run", "--rm", "--rootfs", rootfs_template, "t3", "sh", "-c", "cat; echo end",
            input="from stdin\n")
    assert r.stdout == "from stdin\nend\n"
    assert ctr(containerd, "c", "ls", "-q").stdout == ""


def test_ctr_detached_tasks_and_exec(containerd, rootfs_template):
    containerd.start()
    r = ctr(containerd, "run", "-d", "--rootfs", rootfs_template, "t1", "sleep", "100")
    assert r.returncode == 0, r.stderr
    ls = ctr(containerd, "tasks", "ls").stdout.splitlines()
    assert ls[0].split() == ["TASK", "PID", "STATUS"] and ls[1].split()[::2] == ["t1", "RUNNING"]
    r = ctr(containerd, "tasks", "exec", "--exec-id", "e1", "t1", "sh", "-c", "echo in t1; exit 4")
    assert (r.returncode, r.stdout) == (4, "in t1\n"), r.stderr
    assert ctr(containerd, "tasks", "pause", "t1").returncode == 0
    assert "PAUSED" in ctr(containerd, "t", "ls").stdout
    assert ctr(containerd, "tasks", "resume", "t1").returncode == 0
    assert ctr(containerd, "tasks", "kill", "-s", "KILL", "t1").returncode == 0
    wait_for(lambda: "STOPPED" in ctr(containerd, "t", "ls").stdout, what="stopped")
    r = ctr(containerd, "c", "rm", "t1")
    assert r.returncode == 1 and "has a task" in r.stderr
    c = containerd.client()
    c.call("tasks.delete", container_id="t1")
    assert ctr(containerd, "c", "rm", "t1").returncode == 0
    assert ctr(containerd, "frob").returncode == 1


def test_ctr_tasks_attach(containerd, rootfs_template):
    containerd.start()
    r = ctr(containerd, "run", "-d", "--rootfs", rootfs_template, "t1", "sh", "-c",
            "sleep 1; echo late output; exit 6")
    assert r.returncode == 0, r.stderr
    r = ctr(containerd, "tasks", "attach", "t1")
    assert (r.returncode, r.stdout) == (6, "late output\n"), r.stderr
    c = containerd.client()
    c.call("tasks.delete", container_id="t1")
    c.call("containers.delete", id="t1")
