"""dockerd's default bridge with real namespaces and the real docker CLI:
containers get an address, a MAC, a route and /etc/hosts; they reach each
other and the gateway; NAT and forward rules sit in our chains; and all of
it (veths, leases, rules, the bridge) is gone after the test. Traffic stays
on the test's bridge."""
import json
import subprocess

from busybox_engine.network import firewall
from busybox_engine.network.netlink import Netlink
from tests.network.conftest import BIP, BRIDGE


def _veths_on(bridge: str, settle: int = -1) -> list:
    """The veths on bridge; with settle=N, once there are N of them (a
    namespace the kernel is still tearing down shows its veth a little
    longer), or after 5 s."""
    import time
    deadline = time.time() + 5
    while True:
        with Netlink() as nl:
            links = nl.links()
        found = [] if bridge not in links else [
            name for name, (_i, _up, master, kind) in links.items() if kind == "veth" and master == links[bridge][0]]
        if settle < 0 or len(found) == settle or time.time() > deadline:
            return found
        time.sleep(0.05)


def test_containers_on_the_default_bridge(bridged):
    d = bridged
    with Netlink() as nl:
        assert "10.213.0.1/24" in nl.addresses(BRIDGE)
    assert "-A BBE-POSTROUTING -s 10.213.0.0/24 ! -o bbt0 -j MASQUERADE" in firewall.listed("nat", "BBE-POSTROUTING")
    for name in ("ca", "cb"):
        r = d.docker("run", "-d", "--name", name, "--hostname", f"host-{name[1]}", "busybox", "sleep", "100")
        assert r.returncode == 0, r.stderr
    a = json.loads(d.docker("inspect", "ca").stdout)[0]["NetworkSettings"]
    b = json.loads(d.docker("inspect", "cb").stdout)[0]["NetworkSettings"]
    assert (a["IPAddress"], a["IPPrefixLen"], a["Gateway"]) == ("10.213.0.2", 24, "10.213.0.1")
    assert a["MacAddress"] == "02:42:0a:d5:00:02" and b["IPAddress"] == "10.213.0.3"
    assert a["Networks"]["bridge"]["IPAddress"] == "10.213.0.2" and len(a["Networks"]["bridge"]["EndpointID"]) == 64
    assert len(_veths_on(BRIDGE)) == 2
    r = d.docker("exec", "cb", "ping", "-c", "1", "-W", "3", "10.213.0.2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert d.docker("exec", "ca", "ping", "-c", "1", "-W", "3", "10.213.0.1").returncode == 0
    assert "10.213.0.2\thost-a\n" in d.docker("exec", "ca", "cat", "/etc/hosts").stdout
    route = d.docker("exec", "ca", "ip", "route").stdout
    assert "default via 10.213.0.1 dev eth0" in route, route
    net = json.loads(d.docker("network", "inspect", "bridge").stdout)[0]
    assert net["IPAM"]["Config"] == [{"Subnet": "10.213.0.0/24", "Gateway": "10.213.0.1"}]
    assert net["Options"]["com.docker.network.bridge.name"] == BRIDGE
    assert sorted(c["IPv4Address"] for c in net["Containers"].values()) == ["10.213.0.2/24", "10.213.0.3/24"]
    r = d.docker("run", "--rm", "--add-host", "gw:host-gateway", "--add-host", "other:10.1.2.3",
                 "--mac-address", "02:42:aa:bb:cc:dd", "busybox", "sh", "-c", "cat /etc/hosts; ip link show eth0")
    assert "10.213.0.1\tgw\n10.1.2.3\tother\n" in r.stdout and "02:42:aa:bb:cc:dd" in r.stdout, r.stdout + r.stderr
    # none: loopback only; a stopped container gives its address and veth back
    links = d.docker("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link").stdout
    assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]
    assert d.docker("stop", "-t", "0", "ca").returncode == 0
    assert len(_veths_on(BRIDGE, settle=1)) == 1
    assert json.loads(d.docker("inspect", "ca").stdout)[0]["NetworkSettings"]["IPAddress"] == ""
    assert d.docker("start", "ca").returncode == 0
    assert json.loads(d.docker("inspect", "ca").stdout)[0]["NetworkSettings"]["IPAddress"] == "10.213.0.5"
    assert d.docker("rm", "-f", "ca", "cb").returncode == 0
    assert _veths_on(BRIDGE, settle=0) == []
    # a daemon restart keeps the bridge and its address space
    d.stop()
    d.start("--bridge", BRIDGE, "--bip", BIP)
    with Netlink() as nl:
        assert nl.addresses(BRIDGE) == ["10.213.0.1/24"]
    r = d.docker("run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0")
    assert r.returncode == 0 and "10.213.0." in r.stdout, r.stdout + r.stderr


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 10) -> str:
    """The body at url, tried until the server in the container is up."""
    import time
    import urllib.request
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                return r.read().decode()
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def test_published_ports(bridged):
    import socket
    d = bridged
    p1, p2 = _free_port(), _free_port()
    r = d.docker("run", "-d", "--name", "web", "--hostname", "webhost", "-p", f"127.0.0.1:{p1}:80",
                 "-p", f"{p2}:80", "--expose", "81", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
    assert r.returncode == 0, r.stderr
    # the userland proxy on loopback, DNAT for the host's other addresses
    assert _get(f"http://127.0.0.1:{p1}/hostname") == "webhost\n"
    assert _get(f"http://10.213.0.1:{p2}/hostname") == "webhost\n"
    assert f"-A BBE-DNAT -d 127.0.0.1/32 ! -i {BRIDGE} -p tcp -m tcp --dport {p1} -j DNAT --to-destination 10.213.0.2:80" \
        in firewall.listed("nat", "BBE-DNAT")
    # another container, through the bridge's address
    r = d.docker("run", "--rm", "busybox", "wget", "-q", "-O", "-", f"http://10.213.0.1:{p2}/hostname")
    assert r.stdout == "webhost\n", r.stderr
    out = d.docker("port", "web").stdout.splitlines()
    assert sorted(out) == sorted([f"80/tcp -> 127.0.0.1:{p1}", f"80/tcp -> 0.0.0.0:{p2}"])
    assert f"127.0.0.1:{p1}->80/tcp" in d.docker("ps", "--format", "{{.Ports}}").stdout
    ports = json.loads(d.docker("inspect", "web").stdout)[0]["NetworkSettings"]["Ports"]
    assert ports["81/tcp"] is None and {"HostIp": "127.0.0.1", "HostPort": str(p1)} in ports["80/tcp"]
    # taken by us, taken by another program: Docker's errors, nothing half-made
    rules = firewall.listed("nat", "BBE-DNAT")
    r = d.docker("run", "-d", "--name", "clash", "-p", f"127.0.0.1:{p1}:80", "busybox", "sleep", "100")
    assert r.returncode != 0 and f"Bind for 127.0.0.1:{p1} failed: port is already allocated" in r.stderr, r.stderr
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        r = d.docker("run", "-d", "--name", "clash2", "-p", f"127.0.0.1:{busy}:80", "busybox", "sleep", "100")
        assert r.returncode != 0 and "address already in use" in r.stderr, r.stderr
    assert firewall.listed("nat", "BBE-DNAT") == rules
    assert json.loads(d.docker("inspect", "clash").stdout)[0]["State"]["Running"] is False
    # -P: each exposed port on a port of Docker's ephemeral range
    r = d.docker("run", "-d", "--name", "all", "-P", "--expose", "7000", "busybox", "sleep", "100")
    assert r.returncode == 0, r.stderr
    host_port = int(d.docker("port", "all", "7000").stdout.split(":")[-1])
    assert 49153 <= host_port <= 60999
    # stopped: the ports are free again, the rules gone
    assert d.docker("rm", "-f", "web", "all", "clash", "clash2").returncode == 0
    assert firewall.listed("nat", "BBE-DNAT") == []
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", p1)) != 0


def test_a_published_port_outlives_a_daemon_crash(bridged):
    import signal
    d = bridged
    flags = ("--bridge", BRIDGE, "--bip", BIP, "--live-restore")
    d.stop()
    d.start(*flags)
    port = _free_port()
    r = d.docker("run", "-d", "--name", "kept", "--hostname", "kepthost", "-p", f"127.0.0.1:{port}:80",
                 "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
    assert r.returncode == 0, r.stderr
    assert _get(f"http://127.0.0.1:{port}/hostname") == "kepthost\n"
    d.stop(signal.SIGKILL)
    d.start(*flags)
    assert _get(f"http://127.0.0.1:{port}/hostname") == "kepthost\n"
    assert d.docker("rm", "-f", "kept").returncode == 0
    assert firewall.listed("nat", "BBE-DNAT") == []


def test_without_the_userland_proxy_hairpin_nat(bridged):
    """--userland-proxy=false: no listener of ours; 127.0.0.1 reaches the
    container by DNAT and hairpin NAT, as Docker's does."""
    import socket
    d = bridged
    d.stop()
    d.start("--bridge", BRIDGE, "--bip", BIP, "--userland-proxy=false")
    port = _free_port()
    r = d.docker("run", "-d", "--name", "np", "--hostname", "nphost", "-p", f"127.0.0.1:{port}:80",
                 "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
    assert r.returncode == 0, r.stderr
    assert _get(f"http://127.0.0.1:{port}/hostname") == "nphost\n"
    # nothing of ours listens there: the port is still free to bind on the host
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    assert open(f"/proc/sys/net/ipv4/conf/{BRIDGE}/route_localnet").read().strip() == "1"
    assert f"-A BBE-POSTROUTING -o {BRIDGE} -m addrtype --src-type LOCAL -j MASQUERADE" in \
        firewall.listed("nat", "BBE-POSTROUTING")
    out = subprocess.run(["iptables", "-w", "-t", "nat", "-S", "OUTPUT"], capture_output=True, text=True).stdout
    assert "-A OUTPUT -m addrtype --dst-type LOCAL -j BBE-DNAT" in out, out
    assert d.docker("rm", "-f", "np").returncode == 0
    assert firewall.listed("nat", "BBE-DNAT") == []
    # back to the proxy: the jump skips loopback again
    d.stop()
    d.start("--bridge", BRIDGE, "--bip", BIP)
    out = subprocess.run(["iptables", "-w", "-t", "nat", "-S", "OUTPUT"], capture_output=True, text=True).stdout
    assert "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j BBE-DNAT" in out
    assert "-A OUTPUT -m addrtype --dst-type LOCAL -j BBE-DNAT" not in out
    assert f"-A BBE-POSTROUTING -o {BRIDGE} -m addrtype --src-type LOCAL -j MASQUERADE" not in \
        firewall.listed("nat", "BBE-POSTROUTING")
