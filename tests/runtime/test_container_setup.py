"""What a container sees: namespaces, mounts, devices, fds, users,
capabilities, rlimits, cgroups, hooks; each checked from inside."""
import json
import os
import stat
import subprocess

import pytest


def run_in(runc, args, name="bundle", **edits):
    """Run args in a fresh container; (returncode, stdout, stderr)."""
    b = runc.bundle(args, name=name)
    spec = runc.spec(b)
    for fn in edits.values():
        fn(spec)
    runc.write_spec(b, spec)
    r = runc("run", "-b", b, name, check=False)
    return r.returncode, r.stdout, r.stderr


def sh(script):
    return ["sh", "-c", script]


def test_namespaces_pid_uts_net_ipc(runc):
    rc, out, err = run_in(runc, sh("echo $$; hostname; ls /sys/class/net; readlink /proc/self/ns/ipc"))
    assert rc == 0, err
    pid, host, net, ipc = out.split("\n", 3)
    assert pid == "1" and host == "runc" and net == "lo"
    assert ipc.strip() != os.readlink("/proc/self/ns/ipc")


def test_joining_an_existing_namespace_by_path(runc, tmp_path):
    holder = subprocess.Popen(["unshare", "--uts", "sh", "-c", "hostname shared-uts; exec sleep 100"])
    try:
        import time
        time.sleep(0.2)
        rc, out, err = run_in(runc, ["hostname"], hostname=lambda s: s.pop("hostname"),
                              ns=lambda s: s["linux"]["namespaces"].__setitem__(
                                  3, {"type": "uts", "path": f"/proc/{holder.pid}/ns/uts"}))
        assert rc == 0, err
        assert out.strip() == "shared-uts"
    finally:
        holder.kill()
        holder.wait()


def test_readonly_root_and_writable_tmpfs(runc):
    rc, out, err = run_in(runc, sh("touch /x 2>/dev/null && echo wrote || echo ro; "
                                   "touch /dev/shm/y && echo shm-ok"))
    assert rc == 0, err
    assert out.split() == ["ro", "shm-ok"]


def test_bind_mount_read_only_and_propagation_kept_private(runc, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "file").write_text("from host\n")
    rc, out, err = run_in(runc, sh("cat /data/file; touch /data/new 2>/dev/null || echo ro; "
                                   "mount -t tmpfs none /dev/shm/m 2>/dev/null; true"),
                          mount=lambda s: s["mounts"].append(
                              {"destination": "/data", "type": "bind", "source": str(data),
                               "options": ["rbind", "ro"]}))
    assert rc == 0, err
    assert out.split("\n")[:2] == ["from host", "ro"]
    assert not (data / "new").exists()


def test_tmpfs_options_mode_and_size(runc):
    rc, out, err = run_in(runc, sh("stat -c %a /scratch; df -k /scratch | tail -1"),
                          mount=lambda s: s["mounts"].append(
                              {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                               "options": ["nosuid", "size=2048k", "mode=1770"]}))
    assert rc == 0, err
    mode, df = out.strip().split("\n")
    assert mode == "1770" and df.split()[1] == "2048"


def test_default_devices_and_links(runc):
    rc, out, err = run_in(runc, sh("for d in null zero full random urandom tty; do "
                                   "stat -c '%n %t:%T %a' /dev/$d; done; readlink /dev/fd; readlink /dev/stdin; "
                                   "readlink /dev/ptmx; echo x > /dev/null && head -c 3 /dev/zero | wc -c"))
    assert rc == 0, err
    lines = out.strip().split("\n")
    assert lines[:6] == ["/dev/null 1:3 666", "/dev/zero 1:5 666", "/dev/full 1:7 666",
                         "/dev/random 1:8 666", "/dev/urandom 1:9 666", "/dev/tty 5:0 666"]
    assert lines[6:9] == ["/proc/self/fd", "/proc/self/fd/0", "pts/ptmx"]
    assert lines[9] == "3"


def test_masked_and_readonly_paths(runc):
    rc, out, err = run_in(runc, sh("wc -c < /proc/keys; ls /sys/firmware | wc -l; "
                                   "echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo ro"))
    assert rc == 0, err
    assert out.split() == ["0", "0", "ro"]


def test_only_stdio_reaches_the_program(runc):
    # ls opens the directory itself: fd 3 is that one
    rc, out, err = run_in(runc, ["ls", "/proc/self/fd"])
    assert rc == 0, err
    assert out.split() == ["0", "1", "2", "3"]
    rc, out, err = run_in(runc, ["sh", "-c", "readlink /proc/1/cwd; exec ls /proc/1/fd"], name="b2")
    assert rc == 0, err
    # no working directory outside the rootfs; ls is pid 1 after exec: its own dir fd is 3
    assert out.split() == ["/", "0", "1", "2", "3"]


def test_preserve_fds_passes_exactly_n(runc, tmp_path):
    b = runc.bundle(["ls", "/proc/self/fd"])
    extra = tmp_path / "extra"
    extra.write_text("x")
    with open(extra) as f3, open(extra) as f4:
        os.set_inheritable(f3.fileno(), True)
        os.set_inheritable(f4.fileno(), True)
        assert (f3.fileno(), f4.fileno()) == (3, 4) or True
        script = (f"exec 3<{extra}; exec 4<{extra}; exec "
                  + " ".join(runc.engine.argv("runc", "--root", runc.root, "run",
                                              "--preserve-fds", "1", "-b", b, "c1")))
        r = subprocess.run(["bash", "-c", script], env=runc.engine.env, capture_output=True,
                           text=True, close_fds=True, timeout=60)
        runc.ids.add("c1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "1", "2", "3", "4"]  # 3 preserved, 4 is ls's dir


def test_user_groups_and_capabilities(runc):
    def user(s):
        s["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 1234]}
        s["process"]["capabilities"] = {k: ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
                                        for k in ("bounding", "effective", "permitted", "inheritable",
                                                  "ambient")}
    rc, out, err = run_in(runc, sh("id -u; id -g; id -G; grep -E '^Cap(Eff|Bnd|Amb)' /proc/self/status; "
                                   "grep NoNewPrivs /proc/self/status"), user=user)
    assert rc == 0, err
    lines = out.strip().split("\n")
    assert lines[:2] == ["1000", "1000"]
    assert set(lines[2].split()) == {"1000", "5", "1234"}
    caps = 1 << 5 | 1 << 10  # KILL, NET_BIND_SERVICE
    assert lines[3:6] == [f"CapEff:\t{caps:016x}", f"CapBnd:\t{caps:016x}", f"CapAmb:\t{caps:016x}"]
    assert lines[6] == "NoNewPrivs:\t1"


def test_rlimits_and_umask_and_env_and_cwd(runc):
    def proc(s):
        s["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654},
                                   {"type": "RLIMIT_NPROC", "soft": 100, "hard": 200}]
        s["process"]["env"].append("GREETING=hi there")
        s["process"]["cwd"] = "/tmp"
        s["process"]["user"]["umask"] = 0o077
    rc, out, err = run_in(runc, sh("ulimit -n; ulimit -Hn; ulimit -u; umask; pwd; echo $GREETING"), proc=proc)
    assert rc == 0, err
    assert out.split("\n")[:6] == ["321", "654", "100", "0077", "/tmp", "hi there"]


def test_sysctl_and_domainname(runc):
    def edit(s):
        s["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
        s["domainname"] = "example.test"
    rc, out, err = run_in(runc, sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/domainname"),
                          edit=edit)
    assert rc == 0, err
    assert out.split() == ["1", "example.test"]
    with open("/proc/sys/kernel/domainname") as f:
        assert f.read().strip() != "example.test"


def test_user_namespace_leaves_host_devices_alone(runc, tmp_path):
    before = os.stat("/dev/null")
    # the mapped root must be able to reach the bundle: pytest's tmp is 0700
    os.chmod(tmp_path, 0o711)
    os.chmod(tmp_path.parent, 0o711)
    os.chmod(tmp_path.parent.parent, 0o711)

    def userns(s):
        s["linux"]["namespaces"].append({"type": "user"})
        s["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        s["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        s["linux"].pop("resources", None)
        s["mounts"] = [m for m in s["mounts"] if m["destination"] not in ("/sys", "/sys/fs/cgroup")]
    rc, out, err = run_in(runc, sh("id -u; cat /proc/self/uid_map; echo x > /dev/null && echo null-ok"),
                          userns=userns)
    assert rc == 0, err
    lines = out.strip().split("\n")
    assert lines[0] == "0" and lines[1].split() == ["0", "100000", "65536"] and lines[2] == "null-ok"
    after = os.stat("/dev/null")
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == \
        (before.st_uid, before.st_gid, stat.S_IMODE(before.st_mode))


def test_cgroup_limits_are_applied(runc):
    b = runc.bundle(["sleep", "100"])
    spec = runc.spec(b)
    spec["linux"]["resources"].update({"memory": {"limit": 64 * 1024 * 1024},
                                       "pids": {"limit": 42},
                                       "cpu": {"shares": 512, "quota": 50000, "period": 100000}})
    runc.write_spec(b, spec)
    runc("run", "-d", "-b", b, "c1")
    with open(os.path.join(runc.root, "c1", "state.json")) as f:
        paths = json.load(f)["cgroup_paths"]
    pid = runc.state("c1")["pid"]

    def cat(ctrl, name):
        with open(os.path.join(paths[ctrl], name)) as f:
            return f.read().strip()
    assert cat("memory", "memory.limit_in_bytes") == str(64 * 1024 * 1024)
    assert cat("pids", "pids.max") == "42"
    assert cat("cpu", "cpu.shares") == "512" and cat("cpu", "cpu.cfs_quota_us") == "50000"
    assert str(pid) in cat("memory", "cgroup.procs").split()
    assert "a *:* rwm" not in cat("devices", "devices.list")


def test_devices_cgroup_allows_only_what_the_spec_says(runc):
    def dev(s):
        s["linux"]["devices"] = [{"path": "/dev/loopx", "type": "b", "major": 7, "minor": 0,
                                  "fileMode": 0o660}]
        s["linux"]["resources"]["devices"].append(
            {"allow": True, "type": "b", "major": 7, "minor": 0, "access": "r"})
    rc, out, err = run_in(runc, sh("stat -c '%t:%T %a' /dev/loopx; echo x > /dev/loopx"), dev=dev)
    assert rc != 0
    assert out.split() == ["7:0", "660"]
    assert "Operation not permitted" in err  # written to: the cgroup allows read only


def test_small_memory_limit_runs_true(runc):
    rc, out, err = run_in(runc, ["true"], mem=lambda s: s["linux"]["resources"].__setitem__(
        "memory", {"limit": 8 * 1024 * 1024, "swap": 8 * 1024 * 1024}))
    assert rc == 0, err


def test_hooks_run_in_order_with_state(runc, tmp_path):
    log = tmp_path / "hooks.log"
    script = tmp_path / "hook.sh"
    script.write_text(f"#!/bin/sh\necho \"$1 $(cat)\" >> {log}\n")
    script.chmod(0o755)

    def hooks(s):
        s["hooks"] = {k: [{"path": str(script), "args": ["hook.sh", k]}]
                      for k in ("prestart", "createRuntime", "poststart", "poststop")}
    rc, out, err = run_in(runc, ["true"], hooks=hooks)
    assert rc == 0, err
    entries = [line.split(" ", 1) for line in log.read_text().splitlines()]
    assert [e[0] for e in entries] == ["prestart", "createRuntime", "poststart", "poststop"]
    st = json.loads(entries[0][1])
    assert st["id"] == "bundle" and st["pid"] > 0 and st["bundle"].endswith("bundle")


def test_hook_timeout(runc, tmp_path):
    b = runc.bundle(["true"])
    spec = runc.spec(b)
    spec["hooks"] = {"prestart": [{"path": "/bin/sleep", "args": ["sleep", "10"], "timeout": 1}]}
    runc.write_spec(b, spec)
    r = runc("create", "-b", b, "c1", check=False)
    assert r.returncode == 1 and "timed out" in r.stderr


@pytest.mark.parametrize("propagation", ["rprivate", "rslave", "rshared"])
def test_container_mounts_do_not_leak_to_the_host(runc, tmp_path, propagation):
    rc, out, err = run_in(runc, sh("mount -t tmpfs none /mnt && echo mounted"),
                          prop=lambda s: s["linux"].__setitem__("rootfsPropagation", propagation),
                          caps=lambda s: s["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")
                          or s["process"]["capabilities"]["effective"].append("CAP_SYS_ADMIN")
                          or s["process"]["capabilities"]["permitted"].append("CAP_SYS_ADMIN"),
                          mnt=lambda s: s["mounts"].append({"destination": "/mnt", "type": "tmpfs",
                                                            "source": "tmpfs"}))
    assert rc == 0, err
    assert out.strip() == "mounted"
    with open("/proc/self/mountinfo") as f:
        assert str(tmp_path) not in f.read()


def test_no_pivot_and_absolute_cgroups_path(runc):
    b = runc.bundle(["sh", "-c", "ls /; cat /proc/self/cgroup | grep pids"])
    spec = runc.spec(b)
    spec["linux"]["cgroupsPath"] = "/bbe-test/abs-c1"
    spec["linux"]["namespaces"].append({"type": "cgroup"})
    runc.write_spec(b, spec)
    r = runc("run", "--no-pivot", "-b", b, "c1")
    assert "bin" in r.stdout.split() and "etc" in r.stdout.split()
    assert r.stdout.strip().endswith(":/")  # cgroup namespace: its cgroup is its root
    import glob
    assert glob.glob("/sys/fs/cgroup/*/bbe-test/abs-c1") == []  # removed with the container
    for d in glob.glob("/sys/fs/cgroup/*/bbe-test"):
        os.rmdir(d)


def test_time_namespace_with_offsets(runc):
    with open("/proc/uptime") as f:
        host_uptime = float(f.read().split()[0])

    def timens(s):
        s["linux"]["namespaces"].append({"type": "time"})
        s["linux"]["timeOffsets"] = {"boottime": {"secs": 864000, "nanosecs": 0}}
    rc, out, err = run_in(runc, ["cat", "/proc/uptime"], timens=timens)
    assert rc == 0, err
    assert float(out.split()[0]) >= host_uptime + 864000
    with open("/proc/uptime") as f:
        assert float(f.read().split()[0]) < host_uptime + 864000  # ours is unchanged


def test_lsm_labels_warn_on_a_host_without_them(runc):
    def labels(s):
        s["process"]["apparmorProfile"] = "docker-default"
        s["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0"
    rc, out, err = run_in(runc, ["echo", "ran"], labels=labels)
    assert rc == 0 and out == "ran\n"
    assert "level=warning" in err and "apparmor profile 'docker-default' not applied" in err
    assert "selinux label" in err


def test_cpuset_oom_killer_and_hugetlb_on_the_hybrid_mount(runc):
    import glob
    unified = "/sys/fs/cgroup/unified"
    before = open(f"{unified}/cgroup.subtree_control").read().split() if os.path.isdir(unified) else []
    b = runc.bundle(["sleep", "100"])
    spec = runc.spec(b)
    spec["linux"]["resources"].update({
        "cpu": {"cpus": "0", "mems": "0"},
        "memory": {"limit": 32 << 20, "disableOOMKiller": True},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 0}]})
    runc.write_spec(b, spec)
    try:
        runc("run", "-d", "-b", b, "c1")
        with open(os.path.join(runc.root, "c1", "state.json")) as f:
            paths = json.load(f)["cgroup_paths"]

        def cat(key, name):
            with open(os.path.join(paths[key], name)) as f:
                return f.read()
        assert cat("cpuset", "cpuset.cpus").strip() == "0"
        assert "oom_kill_disable 1" in cat("memory", "memory.oom_control")
        hugetlb_key = "hugetlb" if "hugetlb" in paths else "unified"
        files = glob.glob(os.path.join(paths[hugetlb_key], "hugetlb.2MB.*"))
        assert files, "no hugetlb files"
        name = "hugetlb.2MB.limit_in_bytes" if hugetlb_key == "hugetlb" else "hugetlb.2MB.max"
        assert cat(hugetlb_key, name).strip() == "0"
    finally:
        runc("delete", "--force", "c1", check=False)
        if os.path.isdir(unified) and "hugetlb" not in before:
            try:
                with open(f"{unified}/cgroup.subtree_control", "w") as f:
                    f.write("-hugetlb")
            except OSError:
                pass


def test_session_keyring_per_container(runc):
    def unmask(s):
        s["linux"]["maskedPaths"].remove("/proc/keys")
    b = runc.bundle(["cat", "/proc/keys"])
    spec = runc.spec(b)
    unmask(spec)
    runc.write_spec(b, spec)
    def keyrings(out):
        return [p[p.index("keyring") + 1].rstrip(":") for p in map(str.split, out.splitlines())
                if "keyring" in p]
    assert "keyed-c1" in keyrings(runc("run", "-b", b, "keyed-c1").stdout)
    assert "keyed-c2" not in keyrings(runc("run", "--no-new-keyring", "-b", b, "keyed-c2").stdout)


HIDE_PROBE = """
import os, sys
from busybox_engine.core_pyx import mounts as m
from busybox_engine.runtime import rootfs
root = sys.argv[1]
m.mount(None, "/", None, m.MS_SLAVE | m.MS_REC)
m.mount("proc", root + "/proc", "proc", 0)
rootfs.hide_full_procfs(root)
with open(root + "/proc/self/mountinfo") as f:
    print(f.read())
print("host-proc-gone" if not os.path.exists("/proc/self/status") else "host-proc-here")
"""


def test_no_pivot_hides_the_full_procfs_outside_the_rootfs(tmp_path):
    """--no-pivot chroots instead of pivot_root, so the host's /proc and
    /sys would stay in the container's mount namespace, where the kernel
    counts them as full mounts that let a user-namespaced root mount a
    fresh procfs past the masked paths. runc unmounts them first; so do we."""
    import sys
    from busybox_engine.util import mountinfo
    root = tmp_path / "root"
    (root / "proc").mkdir(parents=True)
    res = subprocess.run(["unshare", "-m", "--propagation", "unchanged", sys.executable, "-c", HIDE_PROBE,
                          str(root)], capture_output=True, text=True, timeout=30,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert res.returncode == 0, res.stderr
    entries = list(mountinfo.parse(res.stdout.splitlines()[:-1]))
    full = [(e.fstype, e.point) for e in entries if e.fstype in ("proc", "sysfs") and e.root == "/"]
    # the view is from the host's root: only the rootfs's own procfs is left
    assert full == [("proc", str(root / "proc"))], full
    assert res.stdout.split()[-1] == "host-proc-gone"
