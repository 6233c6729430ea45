"""Our dockerd beside Debian's dockerd 20.10 with its own bridge and
iptables rules: everything ours makes and removes (networks, published
ports, containers, a daemon stop) leaves Docker's rules, bridge and
running container exactly as they were. Traffic stays on loopback and the
two daemons' bridges."""
import os
import shutil
import subprocess
import tempfile

import pytest

from busybox_engine.network import firewall
from busybox_engine.network.netlink import Netlink
from tests.helpers import Proc, wait_for
from tests.network.conftest import BIP, BRIDGE
from tests.network.test_default_bridge import _free_port, _get
from tests.runtime.conftest import mounts_under
from tests.supervisor.conftest import namespace_cgroups

DOCKER_BRIDGE, DOCKER_BIP = "bbdk0", "10.219.0.1/24"


def _rules() -> set:
    out = set()
    for table in ("filter", "nat"):
        p = subprocess.run(["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True)
        out |= {(table, line) for line in p.stdout.splitlines()}
    return out


def _not_ours(rules: set) -> set:
    return {(t, line) for t, line in rules if "BBE" not in line and BRIDGE not in line and "br-" not in line}


def _remove(rules: set, before: set) -> None:
    """Rules (and then chains) that a test's Docker daemon left; the
    built-in chains' policies as they were (Docker sets FORWARD's to DROP)."""
    for table, line in sorted(before):
        if line.startswith("-P "):
            subprocess.run(["iptables", "-w", "-t", table, *line.split()], capture_output=True)
    for table, line in sorted(rules):
        if line.startswith("-A "):
            subprocess.run(["iptables", "-w", "-t", table, "-D", *line.split()[1:]], capture_output=True)
    for op in ("-F", "-X"):
        for table, line in sorted(rules):
            if line.startswith("-N "):
                subprocess.run(["iptables", "-w", "-t", table, op, line.split()[1]], capture_output=True)


@pytest.fixture
def docker_beside(tmp_path):
    """Debian's dockerd with the bridge bbdk0 (made here) and its iptables
    rules on; afterwards its containers, rules, bridge and dirs are gone."""
    if shutil.which("dockerd") is None:
        pytest.fail("dockerd (docker.io) is not installed: .ci/run installs it")
    before_rules = _rules()
    before_cgroups = namespace_cgroups()
    d = tempfile.mkdtemp(prefix="bbe-dkb-")
    with Netlink() as nl:
        nl.add_bridge(DOCKER_BRIDGE)
        nl.add_address(DOCKER_BRIDGE, DOCKER_BIP)
        nl.set_link(DOCKER_BRIDGE, up=True)
    sock = os.path.join(d, "docker.sock")
    log = open(os.path.join(d, "dockerd.log"), "wb")
    p = Proc(["dockerd", "-H", f"unix://{sock}", "--data-root", os.path.join(d, "data"),
              "--exec-root", os.path.join(d, "exec"), "--pidfile", os.path.join(d, "pid"),
              "--bridge", DOCKER_BRIDGE, "--iptables=true"], stdout=log, stderr=subprocess.STDOUT)
    env = dict(os.environ, DOCKER_HOST=f"unix://{sock}")

    def docker(*args, timeout=120):
        return subprocess.run(["/usr/bin/docker", *args], capture_output=True, text=True, env=env, timeout=timeout)
    docker.added = lambda: _rules() - before_rules
    try:
        wait_for(lambda: docker("version").returncode == 0 or p.popen.poll() is not None, timeout=60, what="dockerd")
        assert p.popen.poll() is None, open(os.path.join(d, "dockerd.log")).read()[-2000:]
        yield docker
    finally:
        for c in docker("ps", "-aq").stdout.split():
            docker("rm", "-f", c)
        p.stop()
        log.close()
        _remove(_rules() - before_rules, before_rules)
        with Netlink() as nl:
            nl.delete_link(DOCKER_BRIDGE)
        for m in reversed(mounts_under(d)):
            subprocess.run(["umount", "-l", m], check=False)
        shutil.rmtree(d, ignore_errors=True)
        for made in namespace_cgroups() - before_cgroups:
            try:
                os.rmdir(made)
            except OSError:
                pass


def test_nothing_of_a_docker_daemon_beside_ours_is_touched(bridged, docker_beside, busybox_archive, tmp_path):
    d, docker = bridged, docker_beside
    assert docker("load", "-i", busybox_archive).returncode == 0
    dport = _free_port()
    r = docker("run", "-d", "--name", "theirs", "--hostname", "theirhost", "-p", f"127.0.0.1:{dport}:80",
               "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
    assert r.returncode == 0, r.stderr
    assert _get(f"http://127.0.0.1:{dport}/hostname") == "theirhost\n"
    theirs = _not_ours(_rules())
    assert any("DOCKER" in line for _t, line in theirs)
    with Netlink() as nl:
        their_links = {n for n, (_i, _up, master, _k) in nl.links().items() if n == DOCKER_BRIDGE or master}
    # ours: a network, published ports, containers, a compose-like churn, then all of it gone
    assert d.docker("network", "create", "mine").returncode == 0
    port = _free_port()
    for args in (["--name", "ma", "--network", "mine"], ["--name", "mb", "-p", f"127.0.0.1:{port}:80"]):
        r = d.docker("run", "-d", *args, "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
        assert r.returncode == 0, r.stderr
    assert _get(f"http://127.0.0.1:{port}/hostname").strip()
    assert d.docker("rm", "-f", "ma", "mb").returncode == 0
    assert d.docker("network", "prune", "-f").returncode == 0
    d.stop()
    # of ours: no lease, no user network's bridge, no veth, no rule but the default bridge's
    import json
    ipam = json.loads((d.tmp / "data" / "network" / "ipam.json").read_text())["networks"]
    assert list(ipam) == ["bridge"] and ipam["bridge"]["leases"] == {}
    with Netlink() as nl:
        links = nl.links()
        assert not [n for n in links if n.startswith("br-")]
        assert not [n for n, (_i, _up, master, _k) in links.items() if master == links[BRIDGE][0]]
    ours = {line for _t, line in _rules() if "BBE" in line and "-N " not in line and "-j BBE" not in line}
    assert ours and all(BRIDGE in line or "10.213.0.0/24" in line for line in ours), ours
    assert _not_ours(_rules()) == theirs
    with Netlink() as nl:
        links = nl.links()
        assert their_links <= set(links) and links[DOCKER_BRIDGE][1]
    # their container never noticed
    assert docker("inspect", "-f", "{{.State.Running}}", "theirs").stdout == "true\n"
    assert _get(f"http://127.0.0.1:{dport}/hostname") == "theirhost\n"
    d.start("--bridge", BRIDGE, "--bip", BIP)
    assert firewall.listed("nat", "BBE-DNAT") == []
