"""The runtime binary is out of a container's reach (CVE-2019-5736)."""
import os

from tests.helpers import wait_for


def test_container_cannot_reach_the_runtime_binary_through_proc(runc, tmp_path):
    """A container process watches /proc for runtime processes that enter
    it (runc exec) and tries to read and overwrite their /proc/PID/exe."""
    b = runc.bundle(["sh", "-c", "while :; do for p in /proc/[0-9]*; do "
                     "[ \"$p\" = /proc/$$ ] && continue; "
                     "readlink $p/exe >> /tmp/seen 2>/dev/null; "
                     "md5sum $p/exe >> /tmp/read 2>/dev/null; "
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
    # nor could it read the runtime's bytes: the digests of what it read
    # are busybox's, not those of the runtime binary (or the interpreter
    # running it from source)
    import hashlib
    runtime = binary or os.path.realpath(runc.engine.argv("runc")[0])
    with open(runtime, "rb") as f:
        runtime_md5 = hashlib.md5(f.read()).hexdigest()
    with open(os.path.join(b, "rootfs", "bin", "busybox"), "rb") as f:
        busybox_md5 = hashlib.md5(f.read()).hexdigest()
    read_md5 = {line.split()[0] for line in read("read").decode().splitlines() if line.strip()}
    assert busybox_md5 in read_md5  # it did read what it could: the check works
    assert runtime_md5 not in read_md5
    assert read("wrote") == b""
    if binary:
        assert os.stat(binary).st_mtime_ns == before


def test_init_is_not_dumpable_before_exec(runc, tmp_path):
    """The created init is an image of the runtime: not dumpable (so its
    /proc/PID/exe and memory are out of a container's reach). What tells
    it from outside: a non-dumpable process that crashes leaves no core
    file, the same program dumpable does."""
    import signal
    with open("/proc/sys/kernel/core_pattern") as f:
        pattern = f.read()
    try:
        with open("/proc/sys/kernel/core_pattern", "w") as f:
            f.write("core")  # a file named core in the crashing process's cwd
        # (pid 1 of a pid namespace ignores the signal: a child crashes)
        b = runc.bundle(["sh", "-c", "sleep 100 & kill -SEGV $!; wait"], root={"path": "rootfs"})
        spec = runc.spec(b)
        spec["process"]["cwd"] = "/tmp"
        # no pid namespace: as its pid 1 the init would ignore our SIGSEGV
        spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "pid"]
        spec["process"]["rlimits"].append({"type": "RLIMIT_CORE", "soft": 1 << 30, "hard": 1 << 30})
        runc.write_spec(b, spec)
        cores = os.path.join(b, "rootfs", "tmp")
        # the program, dumpable, crashes and leaves a core: the check can tell
        runc("run", "-b", b, "c0", check=False)
        assert [n for n in os.listdir(cores) if n.startswith("core")], "no core from a dumpable process"
        for n in os.listdir(cores):
            os.unlink(os.path.join(cores, n))
        # the created init, crashed before it execs, leaves none
        runc("create", "-b", b, "c1")
        pid = runc.state("c1")["pid"]
        with open(f"/proc/{pid}/status") as f:
            assert "runc:[2:INIT]" in f.read()
        os.kill(pid, signal.SIGSEGV)
        wait_for(lambda: runc.state("c1")["status"] == "stopped", what="the init gone")
        assert [n for n in os.listdir(cores) if n.startswith("core")] == []
    finally:
        with open("/proc/sys/kernel/core_pattern", "w") as f:
            f.write(pattern)
