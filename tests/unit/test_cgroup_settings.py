"""What the cgroup managers write, against a temp dir standing in for the
cgroup files (the pure-v2 path cannot run end to end on this hybrid host)."""
import os

import pytest

from busybox_engine.runtime.cgroups import devicefilter, v1, v2


def files(d, names):
    for n in names:
        (d / n).write_text("")


def read(d, name):
    return (d / name).read_text()


@pytest.fixture
def no_bpf(monkeypatch):
    attached = []
    monkeypatch.setattr(devicefilter, "attach", lambda path, rules: attached.append((path, rules)))
    return attached


def test_v2_conversions(tmp_path, no_bpf):
    files(tmp_path, ["memory.max", "memory.swap.max", "memory.low", "cpu.weight", "cpu.max",
                     "cpuset.cpus", "cpuset.mems", "pids.max", "hugetlb.2MB.max", "io.weight"])
    m = v2.Manager({"": str(tmp_path)})
    m.set({"memory": {"limit": 100 << 20, "swap": 150 << 20, "reservation": 50 << 20},
           "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
           "pids": {"limit": 0},
           "hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}],
           "unified": {"io.weight": "default 200"},
           "devices": [{"allow": False, "access": "rwm"}]})
    assert read(tmp_path, "memory.max") == str(100 << 20)
    assert read(tmp_path, "memory.swap.max") == str(50 << 20)  # v1's swap is memory+swap
    assert read(tmp_path, "memory.low") == str(50 << 20)
    assert read(tmp_path, "cpu.weight") == "39"  # runc's conversion of 1024 shares
    assert read(tmp_path, "cpu.max") == "50000 100000"
    assert (read(tmp_path, "cpuset.cpus"), read(tmp_path, "cpuset.mems")) == ("0-1", "0")
    assert read(tmp_path, "pids.max") == "max"
    assert read(tmp_path, "hugetlb.2MB.max") == str(4 << 20)
    assert read(tmp_path, "io.weight") == "default 200"
    (path, rules), = no_bpf
    assert path == str(tmp_path) and rules[0] == (False, "a *:* rwm")
    assert (True, "c 1:3 rwm") in rules


def test_v2_rejects_unified_keys_with_paths(tmp_path, no_bpf):
    m = v2.Manager({"": str(tmp_path)})
    with pytest.raises(OSError, match="must be a file name"):
        m.set({"unified": {"../../cgroup.procs": "1"}})


def test_v1_settings(tmp_path):
    paths = {}
    for ctrl in ("memory", "cpu", "pids", "devices"):
        d = tmp_path / ctrl
        d.mkdir()
        paths[ctrl] = str(d)
    files(tmp_path / "memory", ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
                                "memory.soft_limit_in_bytes", "memory.oom_control"])
    files(tmp_path / "cpu", ["cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"])
    files(tmp_path / "pids", ["pids.max"])
    writes = []
    for name in ("devices.allow", "devices.deny"):
        (tmp_path / "devices" / name).write_text("")
    m = v1.Manager(paths)
    orig = v1.write
    v1.write = lambda path, value: (writes.append((os.path.basename(path), str(value))), orig(path, value))
    try:
        m.set({"memory": {"limit": 64 << 20, "swap": 128 << 20, "disableOOMKiller": True},
               "cpu": {"shares": 512, "quota": 20000, "period": 100000},
               "pids": {"limit": 5},
               "devices": [{"allow": False, "access": "rwm"},
                           {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"}]},
              creating=True)
    finally:
        v1.write = orig
    assert read(tmp_path / "memory", "memory.limit_in_bytes") == str(64 << 20)
    assert read(tmp_path / "memory", "memory.memsw.limit_in_bytes") == str(128 << 20)
    assert read(tmp_path / "memory", "memory.oom_control") == "1"
    assert read(tmp_path / "cpu", "cpu.cfs_quota_us") == "20000"
    assert read(tmp_path / "pids", "pids.max") == "5"
    device_writes = [w for w in writes if w[0].startswith("devices.")]
    assert device_writes[:2] == [("devices.deny", "a *:* rwm"), ("devices.allow", "c 10:200 rwm")]
    assert ("devices.allow", "c 136:* rwm") in device_writes


def test_device_rule_lines():
    assert devicefilter.device_rule({"type": "b", "major": 8, "access": "r"}) == "b 8:* r"
    assert devicefilter.device_rule({"access": "rwm"}) == "a *:* rwm"
    assert devicefilter.parse_rule("c 1:3 rw") == ("c", 1, 3, devicefilter.ACC_READ | devicefilter.ACC_WRITE)


def test_exec_sub_cgroups():
    import pytest
    from busybox_engine.runtime.cgroups import parse_sub_cgroups, with_sub_cgroups
    from busybox_engine.runtime.errors import RuntimeFailure
    assert parse_sub_cgroups(["a"]) == {"": "a"}
    assert parse_sub_cgroups(["cpu,memory:x", "pids:y"]) == {"cpu": "x", "memory": "x", "pids": "y"}
    for bad in (["a:b:c"], ["x", "pids:y"], [",cpu:x"], ["cpu:x", "cpu:y"]):
        with pytest.raises(RuntimeFailure):
            parse_sub_cgroups(bad)
    paths = {"cpu": "/sys/fs/cgroup/cpu/c1", "pids": "/sys/fs/cgroup/pids/c1"}
    assert with_sub_cgroups(paths, {"": "s"}, False) == {"cpu": "/sys/fs/cgroup/cpu/c1/s",
                                                         "pids": "/sys/fs/cgroup/pids/c1/s"}
    assert with_sub_cgroups(paths, {"pids": "s/t"}, False)["cpu"] == "/sys/fs/cgroup/cpu/c1"
    assert with_sub_cgroups({"": "/sys/fs/cgroup/c1"}, {"": "s"}, True) == {"": "/sys/fs/cgroup/c1/s"}
    for subs in ({"pids": "../other"}, {"nosuch": "s"}):
        with pytest.raises(RuntimeFailure):
            with_sub_cgroups(paths, subs, False)
