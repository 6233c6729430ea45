"""Cgroup hierarchies from mountinfo, freezing that times out, and unified
keys that would lead out of a container's cgroup."""
import pytest

from busybox_engine.runtime import cgroups
from busybox_engine.runtime.cgroups import hierarchy, v1, v2

# this host's layout (hybrid), as /proc/self/mountinfo lists it
HYBRID = """\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 25 0:24 / /sys/fs/cgroup rw,relatime shared:8 - tmpfs tmpfs rw,mode=755
27 26 0:25 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu
28 26 0:26 / /sys/fs/cgroup/cpuacct rw,relatime shared:10 - cgroup cgroup rw,cpuacct
29 26 0:27 / /sys/fs/cgroup/memory rw,relatime shared:11 - cgroup cgroup rw,memory
30 26 0:28 / /sys/fs/cgroup/freezer rw,relatime shared:12 - cgroup cgroup rw,freezer
31 26 0:29 / /sys/fs/cgroup/systemd rw,relatime shared:13 - cgroup cgroup rw,xattr,name=systemd
32 26 0:30 / /sys/fs/cgroup/unified rw,relatime shared:14 - cgroup2 cgroup2 rw
33 26 0:31 /docker/abc /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids,release_agent=/x
34 26 0:32 / /sys/fs/cgroup/cpu\\040set rw,relatime - cgroup cgroup rw,cpuset,noprefix
"""


def test_hierarchies_come_from_mountinfo_not_from_directory_names():
    m = hierarchy.Mounts(HYBRID.splitlines())
    assert m.v1["cpu"] == ("/sys/fs/cgroup/cpu", "/")
    assert m.v1["name=systemd"] == ("/sys/fs/cgroup/systemd", "/")
    assert m.v1["pids"] == ("/sys/fs/cgroup/pids", "/docker/abc")
    assert m.v1["cpuset"] == ("/sys/fs/cgroup/cpu set", "/")  # escaped space
    # mount options are not controllers, and a plain directory (net_cls,
    # hugetlb left by someone) is no hierarchy: it is not in mountinfo
    assert set(m.v1) == {"cpu", "cpuacct", "memory", "freezer", "name=systemd", "pids", "cpuset"}
    assert m.unified() == "/sys/fs/cgroup/unified" and not m.is_cgroup2("/sys/fs/cgroup")


def test_a_v1_manager_uses_only_mounted_hierarchies(monkeypatch):
    monkeypatch.setattr(hierarchy, "_mounts", hierarchy.Mounts(HYBRID.splitlines()))
    monkeypatch.setattr(v1, "own_cgroup", lambda ctrl: "/docker/abc/sub" if ctrl == "pids" else "/")
    m = v1.Manager.for_path("", "c1")
    assert m.paths == {"cpu": "/sys/fs/cgroup/cpu/c1", "cpuacct": "/sys/fs/cgroup/cpuacct/c1",
                       "memory": "/sys/fs/cgroup/memory/c1", "freezer": "/sys/fs/cgroup/freezer/c1",
                       "cpuset": "/sys/fs/cgroup/cpu set/c1",
                       # the pids mount shows /docker/abc: our cgroup is sub below it
                       "pids": "/sys/fs/cgroup/pids/sub/c1", "unified": "/sys/fs/cgroup/unified/c1"}
    assert v1.Manager.for_path("/ns/c1", "c1").paths["memory"] == "/sys/fs/cgroup/memory/ns/c1"


@pytest.mark.parametrize("kind", ["v1 freezer", "v1 unified", "v2"])
def test_a_freeze_that_does_not_take_fails_and_thaws(tmp_path, monkeypatch, kind):
    monkeypatch.setattr(cgroups, "FREEZE_TIMEOUT", 0.05)
    if kind == "v1 freezer":
        (tmp_path / "freezer.state").write_text("THAWED\n")
        m = v1.Manager({"freezer": str(tmp_path)})
        monkeypatch.setattr(v1, "read", lambda path: "FREEZING\n")  # stuck, as with a task in D state
        state = tmp_path / "freezer.state"
    else:
        (tmp_path / "cgroup.freeze").write_text("0\n")
        (tmp_path / "cgroup.events").write_text("populated 1\nfrozen 0\n")  # never becomes frozen
        m = v1.Manager({"unified": str(tmp_path)}) if kind == "v1 unified" else v2.Manager({"": str(tmp_path)})
        state = tmp_path / "cgroup.freeze"
    with pytest.raises(OSError, match="not frozen after"):
        m.freeze()
    assert state.read_text().strip() in ("THAWED", "0")  # thawed again, not left half-frozen


def test_a_freeze_that_takes(tmp_path):
    (tmp_path / "freezer.state").write_text("THAWED\n")
    m = v1.Manager({"freezer": str(tmp_path)})
    m.freeze()  # a plain file reads back what was written: FROZEN
    assert m.frozen()


@pytest.mark.parametrize("key", ["../../cgroup.procs", "a/b", "", "..", "/etc/passwd"])
def test_unified_keys_stay_in_the_cgroup(tmp_path, key):
    with pytest.raises(OSError, match="must be a file name"):
        v2.Manager({"": str(tmp_path)}).set({"unified": {key: "1"}})
    # v1 (and this hybrid host) takes none at all, as runc
    with pytest.raises(OSError, match="cannot use unified on cgroup v1"):
        v1.Manager({"unified": str(tmp_path)}).set({"unified": {key: "1"}})
    assert list(tmp_path.iterdir()) == []
