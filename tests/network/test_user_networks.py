"""User-defined bridge networks through the real docker CLI: create (a
subnet picked or given), containers on them reach each other, not across
networks; an --internal one has no route out; connect and disconnect of a
running container; rm refused while in use; prune; nothing left after."""
import json
import subprocess

from busybox_engine.network import firewall
from busybox_engine.network.netlink import Netlink


def _addr(d, name: str, net: str) -> str:
    return json.loads(d.docker("inspect", name).stdout)[0]["NetworkSettings"]["Networks"][net]["IPAddress"]


def test_user_networks(bridged):
    d = bridged
    r = d.docker("network", "create", "--subnet", "10.214.0.0/24", "--label", "team=a", "front")
    assert r.returncode == 0, r.stderr
    front_id = r.stdout.strip()
    assert len(front_id) == 64
    assert d.docker("network", "create", "--internal", "--subnet", "10.215.0.0/24", "back").returncode == 0
    r = d.docker("network", "create", "front")
    assert r.returncode != 0 and "network with name front already exists" in r.stderr
    ls = d.docker("network", "ls", "--format", "{{.Name}} {{.Driver}}").stdout.split("\n")
    assert "front bridge" in ls and "back bridge" in ls
    assert d.docker("network", "ls", "-q", "--filter", "label=team=a").stdout.strip() == front_id[:12]
    net = json.loads(d.docker("network", "inspect", "front").stdout)[0]
    assert net["IPAM"]["Config"][0]["Subnet"] == "10.214.0.0/24" and net["Labels"] == {"team": "a"}
    bridge = f"br-{front_id[:12]}"
    with Netlink() as nl:
        assert nl.addresses(bridge) == ["10.214.0.1/24"]

    for name, net_name in (("f1", "front"), ("f2", "front"), ("b1", "back")):
        # --dns 127.0.0.1: a name not ours is asked of the host's loopback, never of the world
        args = ["--ip", "10.214.0.50", "--network-alias", "api"] if name == "f2" else []
        args += ["--dns", "127.0.0.1"]
        r = d.docker("run", "-d", "--name", name, "--network", net_name, *args, "busybox", "sleep", "100")
        assert r.returncode == 0, r.stderr
    f1, f2, b1 = _addr(d, "f1", "front"), _addr(d, "f2", "front"), _addr(d, "b1", "back")
    assert f1 == "10.214.0.2" and f2 == "10.214.0.50" and b1 == "10.215.0.2"
    assert d.docker("exec", "f1", "ping", "-c", "1", "-W", "3", f2).returncode == 0
    # the embedded DNS server: names, aliases and short ids of the network's containers
    assert d.docker("exec", "f1", "cat", "/etc/resolv.conf").stdout.splitlines()[-2:] == [
        "nameserver 127.0.0.11", "options ndots:0"]
    for name in ("f2", "api", json.loads(d.docker("inspect", "f2").stdout)[0]["Id"][:12]):
        r = d.docker("exec", "f1", "nslookup", name)
        assert r.returncode == 0 and "10.214.0.50" in r.stdout, (name, r.stdout, r.stderr)
    assert d.docker("exec", "f1", "ping", "-c", "1", "-W", "3", "f2").returncode == 0
    r = d.docker("exec", "f1", "nslookup", "b1")      # on another network: not known here
    assert r.returncode != 0 or "10.215.0.2" not in r.stdout
    # another network is out of reach, and an internal one has no way out
    assert d.docker("exec", "f1", "ping", "-c", "1", "-W", "1", b1).returncode != 0
    assert "default" not in d.docker("exec", "b1", "ip", "route").stdout
    # connect a running container: eth1 on the other network, both ways reachable
    assert d.docker("network", "connect", "back", "f1").returncode == 0
    assert "10.215.0." in d.docker("exec", "f1", "ip", "-o", "-4", "addr", "show", "eth1").stdout
    assert d.docker("exec", "f1", "ping", "-c", "1", "-W", "3", b1).returncode == 0
    r = d.docker("network", "connect", "back", "f1")
    assert r.returncode != 0 and "already exists in network back" in r.stderr
    r = d.docker("network", "rm", "back")
    assert r.returncode != 0 and "has active endpoints" in r.stderr
    assert d.docker("network", "disconnect", "back", "f1").returncode == 0
    assert d.docker("exec", "f1", "ip", "link", "show", "eth1").returncode != 0
    ids = set(json.loads(d.docker("network", "inspect", "front").stdout)[0]["Containers"])
    assert len(ids) == 2
    assert d.docker("rm", "-f", "f1", "f2", "b1").returncode == 0
    r = d.docker("network", "prune", "-f")
    assert r.returncode == 0 and "front" in r.stdout and "back" in r.stdout, r.stdout
    assert d.docker("network", "ls", "-q", "--filter", "type=custom").stdout == ""
    with Netlink() as nl:
        assert not nl.exists(bridge)
    assert not any("10.214.0.0/24" in rule or "10.215.0.0/24" in rule
                   for rule in firewall.listed("filter", "BBE-FORWARD") + firewall.listed("nat", "BBE-POSTROUTING"))


def test_address_pools_ip_range_and_icc(bridged):
    """--default-address-pool gives networks their subnets in turn;
    --ip-range keeps containers' addresses inside it; icc off (the
    network's enable_icc option) keeps its containers apart."""
    from tests.network.conftest import BIP, BRIDGE
    d = bridged
    d.stop()
    d.start("--bridge", BRIDGE, "--bip", BIP, "--default-address-pool", "base=10.216.0.0/16,size=24")
    subnets = []
    for name in ("pa", "pb"):
        assert d.docker("network", "create", name).returncode == 0
        subnets.append(json.loads(d.docker("network", "inspect", name).stdout)[0]["IPAM"]["Config"][0]["Subnet"])
    assert subnets == ["10.216.0.0/24", "10.216.1.0/24"]
    r = d.docker("network", "create", "--subnet", "10.217.0.0/24", "--ip-range", "10.217.0.128/28",
                 "-o", "com.docker.network.bridge.enable_icc=false", "ranged")
    assert r.returncode == 0, r.stderr
    for name in ("r1", "r2"):
        r = d.docker("run", "-d", "--name", name, "--network", "ranged", "busybox", "sleep", "100")
        assert r.returncode == 0, r.stderr
    r1, r2 = _addr(d, "r1", "ranged"), _addr(d, "r2", "ranged")
    assert (r1, r2) == ("10.217.0.128", "10.217.0.129"), (r1, r2)
    # no inter-container traffic on it, though both are up and the gateway answers
    assert d.docker("exec", "r1", "ping", "-c", "1", "-W", "1", r2).returncode != 0
    assert d.docker("exec", "r1", "ping", "-c", "1", "-W", "3", "10.217.0.1").returncode == 0
    assert d.docker("rm", "-f", "r1", "r2").returncode == 0
    assert d.docker("network", "rm", "pa", "pb", "ranged").returncode == 0
    d.stop()
    r = subprocess.run(d.engine.argv("dockerd", "--default-address-pool", "base=10.0.0.0/16,size=8",
                                     "--data-root", str(d.tmp / "bad"), "-H", f"unix://{d.tmp}/bad.sock"),
                       env=d.engine.env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "size 8 is not within 16..30" in r.stderr, r.stderr
    d.start("--bridge", BRIDGE, "--bip", BIP)
