"""cgroup v2 device rules as a BPF program, on this host's cgroup2 mount."""
import os
import subprocess

import pytest

from busybox_engine.runtime.cgroups import is_cgroup2, own_cgroup
from busybox_engine.runtime.cgroups import devicefilter

UNIFIED = "/sys/fs/cgroup/unified" if is_cgroup2("/sys/fs/cgroup/unified") else "/sys/fs/cgroup"


@pytest.fixture
def v2_cgroup():
    if not is_cgroup2(UNIFIED):
        pytest.skip("no cgroup2 mount")
    path = os.path.join(UNIFIED, own_cgroup("").lstrip("/"), f"bbe-devtest-{os.getpid()}")
    os.makedirs(path)
    yield path
    os.rmdir(path)


def in_cgroup(path, script):
    return subprocess.run(["sh", "-c", f"echo $$ > {path}/cgroup.procs; {script}"],
                          capture_output=True, text=True, timeout=30)


def test_program_denies_what_no_rule_allows(v2_cgroup):
    devices = [{"allow": False, "access": "rwm"},
               {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}]
    rules = [(allow, rule) for allow, rule in devicefilter.spec_rules(devices)
             if rule != "c 1:5 rwm"]  # take /dev/zero out of the defaults
    devicefilter.attach(v2_cgroup, rules)
    r = in_cgroup(v2_cgroup, "head -c1 /dev/zero >/dev/null && echo zero; "
                             "head -c1 /dev/urandom >/dev/null && echo urandom; "
                             "echo x > /dev/null && echo null")
    assert r.stdout.split() == ["urandom", "null"]
    assert "Operation not permitted" in r.stderr


def test_read_only_rule_refuses_writes(v2_cgroup):
    devices = [{"allow": False, "access": "rwm"},
               {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "r"}]
    rules = [(a, r) for a, r in devicefilter.spec_rules(devices) if r != "c 1:7 rwm"]
    devicefilter.attach(v2_cgroup, rules)
    r = in_cgroup(v2_cgroup, "head -c1 /dev/full >/dev/null && echo read; "
                             "echo x > /dev/full 2>/dev/null || echo no-write")
    assert r.stdout.split() == ["read", "no-write"]


def test_last_matching_rule_wins():
    # deny everything after allowing /dev/null: the deny comes last and wins
    prog = devicefilter.program([(True, "c 1:3 rwm"), (False, "a *:* rwm")])
    # unconditional last rule: the program is just the loads and one return
    assert len(prog) == 8 * (6 + 2)
