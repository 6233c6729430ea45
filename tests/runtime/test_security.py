"""The runtime binary is out of a container's reach (CVE-2019-5736)."""
import os

from tests.helpers import wait_for


def test_container_cannot_reach_the_runtime_binary_through_proc(runc, tmp_path):
    """A container process watches /proc for runtime processes that enter
    it (runc exec) and tries to read and overwrite their /proc/PID/exe."""
    b = runc.bundle(["sh", "-c", "while :; do for p in /proc/[0-9]*; do "
                     "[ \"$p\" = /proc/$$ ] && continue; "
                     "readlink $p/exe >> /tmp/seen 2>/dev/null; "
                     "head -c 4 $p/exe >> /tmp/read 2>/dev/null; "
                     "echo x 2>/dev/null > $p/exe && echo WROTE >> /tmp/wrote; "
                     "done; done"], root={"path": "rootfs"})
    runc("run", "-d", "-b", b, "c1")
    binary = os.path.realpath(runc.engine.argv("runc")[0]) if runc.engine.form == "binary" else None
    before = os.stat(binary).st_mtime_ns if binary else None
    for _ in range(15):
        r = runc("exec", "c1", "sh", "-c", "sleep 0.05")
        assert r.returncode == 0, r.stderr
    runc("kill", "c1", "KILL")
    wait_for(lambda: runc.state("c1")["status"] == "stopped", what="stopped")
    tmp = os.path.join(b, "rootfs", "tmp")

    def read(name):
        try:
            with open(os.path.join(tmp, name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""
    seen = read("seen").decode().split()
    # what it could see are its own programs (busybox), never the runtime
    assert all(s.startswith("/bin/") for s in seen), set(seen)
    assert b"\x7fELF" not in read("read") or all(s.startswith("/bin/") for s in seen)
    assert read("wrote") == b""
    if binary:
        assert os.stat(binary).st_mtime_ns == before


def test_init_is_not_dumpable_before_exec(runc):
    b = runc.bundle(["sleep", "100"])
    runc("create", "-b", b, "c1")
    pid = runc.state("c1")["pid"]
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    # a non-dumpable process's /proc files belong to root: the created
    # init (an image of the runtime) exposes nothing to the container
    assert os.stat(f"/proc/{pid}").st_uid == 0
    assert "runc:[2:INIT]" in status
    runc("start", "c1")
