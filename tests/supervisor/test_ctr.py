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


def test_ctr_run_uses_containerds_default_spec(containerd, rootfs_template):
    containerd.start()
    r = ctr(containerd, "run", "--rm", "--rootfs", rootfs_template, "web1", "sh", "-c",
            "grep CapBnd /proc/self/status; ulimit -n; ulimit -Hn; grep memory /proc/self/cgroup | cut -d: -f2-;"
            " hostname; wc -c </proc/timer_list; grep -c ' /proc/sys proc ro,' /proc/mounts")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    # Docker's 14 default capabilities, RLIMIT_NOFILE 1024:1048576, the
    # container's cgroup under its namespace, its id as hostname
    from busybox_engine.oci.defaultspec import nofile_hard
    hard = str(nofile_hard())  # 1048576 where we hold CAP_SYS_RESOURCE; not in every sandbox
    assert lines[:5] == ["CapBnd:\t00000000a80425fb", "1024", hard, "memory:/default/web1", "web1"]
    assert lines[5:7] == ["0", "1"]  # /proc/timer_list masked, /proc/sys read-only


def test_ctr_run_t_is_an_interactive_shell(containerd, rootfs_template):
    import os
    import pty
    import select
    containerd.start()
    master, slave = pty.openpty()
    p = subprocess.Popen(containerd.engine.argv("ctr", "-a", str(containerd.sock), "run", "-t", "--rm",
                                                "--rootfs", rootfs_template, "t1", "sh"),
                         env=containerd.engine.env, stdin=slave, stdout=slave, stderr=slave,
                         start_new_session=True)
    os.close(slave)

    def read_until(marker: bytes, out: bytes = b"") -> bytes:
        while marker not in out:
            if not select.select([master], [], [], 20)[0]:
                raise AssertionError(f"no {marker!r} from ctr run -t: {out!r}")
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every writer closed
                chunk = b""
            if not chunk:
                raise AssertionError(f"no {marker!r} before the end: {out!r}")
            out += chunk
        return out
    try:
        read_until(b"/ # ")  # the shell's prompt: a user types after it
        os.write(master, b"echo $((6*7)) $(tty) $TERM; exit 3\r")
        out = read_until(b"xterm\r\n")
        assert p.wait(timeout=30) == 3
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    assert b"42 /dev/pts/0 xterm" in out, out


def test_ctr_images_import_and_run_an_image_made_by_mkimage(containerd, tmp_path):
    """What README's main job does: an image from the host's busybox-static."""
    import sys
    tar = tmp_path / "busybox.tar"
    r = subprocess.run([sys.executable, "-m", "busybox_engine.image.mkimage", str(tar)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    containerd.start()
    r = ctr(containerd, "images", "import", str(tar))
    assert r.returncode == 0 and "busybox:latest" in r.stdout, r.stderr
    assert "docker.io/library/busybox:latest" in ctr(containerd, "images", "ls").stdout
    r = ctr(containerd, "run", "--rm", "busybox:latest", "t1", "echo", "hi")
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    r = ctr(containerd, "run", "--rm", "busybox:latest", "t2", "sh", "-c", "exit 5")
    assert r.returncode == 5
    assert ctr(containerd, "images", "rm", "busybox:latest").returncode == 0


def test_ctr_tasks_metrics_and_rm(containerd, rootfs_template):
    containerd.start()
    assert ctr(containerd, "run", "-d", "--rootfs", rootfs_template, "t1", "sh", "-c",
               "sleep 100 & sleep 100 & wait").returncode == 0
    wait_for(lambda: len(ctr(containerd, "tasks", "ps", "t1").stdout.splitlines()) == 4, what="3 processes")
    r = ctr(containerd, "tasks", "metrics", "t1")
    assert r.returncode == 0, r.stderr
    m = dict(line.split() for line in r.stdout.splitlines()[1:])
    assert m["pids.current"] == "3"
    assert int(m["memory.usage_in_bytes"]) > 0 and int(m["cpuacct.usage"]) > 0
    r = ctr(containerd, "tasks", "rm", "t1")
    assert r.returncode == 1 and "running" in r.stderr  # a running task is not deleted without -f
    assert ctr(containerd, "tasks", "rm", "-f", "t1").returncode == 0
    assert ctr(containerd, "tasks", "ls").stdout.splitlines()[1:] == []
    r = ctr(containerd, "tasks", "metrics", "t1")
    assert r.returncode == 1 and "no task" in r.stderr
    assert ctr(containerd, "containers", "rm", "t1").returncode == 0


def test_a_reader_that_stops_slows_the_container_and_loses_nothing(containerd, rootfs_template, tmp_path):
    """ctr's reader stops for 3 s: the container waits as on a pipe;
    containerd and the shim hold no more for it (it once all went into
    containerd's memory), and every byte arrives."""
    import os
    import time
    containerd.start()

    def rss_mb(pid):
        with open(f"/proc/{pid}/status") as f:
            return int(next(line for line in f if line.startswith("VmRSS:")).split()[1]) / 1024
    p = subprocess.Popen(containerd.engine.argv("ctr", "-a", str(containerd.sock), "run", "--rm", "--rootfs",
                                                rootfs_template, "t1", "dd", "if=/dev/zero", "bs=1M", "count=300"),
                         env=containerd.engine.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
    got = len(p.stdout.read(20 << 20))
    while got < 20 << 20:
        got += len(p.stdout.read((20 << 20) - got))
    pid_file = tmp_path / "state" / "tasks" / "default" / "t1" / "shim" / "shim.pid"
    shim = int(pid_file.read_text().split()[0])
    before = {"containerd": rss_mb(containerd.proc.pid), "shim": rss_mb(shim)}
    time.sleep(3)
    after = {"containerd": rss_mb(containerd.proc.pid), "shim": rss_mb(shim)}
    # the container is held up: not far past what the pipes and sockets hold
    with open(f"/proc/{shim}/task/{shim}/children") as f:
        dd = int(f.read().split()[0])
    with open(f"/proc/{dd}/io") as f:
        written = int(next(line for line in f if line.startswith("wchar:")).split()[1])
    assert written < got + (16 << 20), (written, got)
    while True:
        chunk = p.stdout.read(1 << 20)
        if not chunk:
            break
        got += len(chunk)
    assert p.wait(60) == 0 and got == 300 << 20
    for name in before:
        assert after[name] - before[name] < 10, (name, before, after)
    assert not os.path.exists(pid_file.parent.parent)
