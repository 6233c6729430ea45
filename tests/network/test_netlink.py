"""Our rtnetlink requests on real network namespaces (made by the test with
unshare, gone when its processes end): a bridge and a veth pair between two
namespaces, addresses and a default route, then a ping across."""
import os
import subprocess

import pytest

from busybox_engine.network.netlink import Netlink


@pytest.fixture
def two_netns():
    procs = [subprocess.Popen(["unshare", "-n", "sleep", "300"]) for _ in range(2)]
    try:
        paths = [f"/proc/{p.pid}/ns/net" for p in procs]
        # unshare has execed sleep once the namespace differs from ours
        import time
        deadline = time.time() + 10
        while any(os.readlink(p) == os.readlink("/proc/self/ns/net") for p in paths):
            assert time.time() < deadline
            time.sleep(0.01)
        yield paths
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_bridge_veth_addresses_routes_and_a_ping(two_netns):
    host_links = Netlink().links()
    a, b = two_netns
    with Netlink(a) as na, Netlink(b) as nb:
        na.add_bridge("bbt0")
        na.set_link("bbt0", up=True)
        na.add_address("bbt0", "10.199.0.1/24")
        fd = os.open(b, os.O_RDONLY | os.O_CLOEXEC)
        try:
            na.add_veth("vbbt0", "eth0", peer_netns_fd=fd, mtu=1400)
        finally:
            os.close(fd)
        na.set_link("vbbt0", master="bbt0", up=True)
        links = na.links()
        assert links["vbbt0"][2] == links["bbt0"][0] and links["vbbt0"][1]
        assert links["bbt0"][3] == "bridge" and links["vbbt0"][3] == "veth"
        nb.set_link("lo", up=True)
        nb.set_link("eth0", up=True, mac="02:42:0a:c7:00:02")
        nb.add_address("eth0", "10.199.0.2/24")
        nb.add_route(gateway="10.199.0.1")
        assert "10.199.0.2/24" in nb.addresses("eth0")
        assert ("0.0.0.0/0", "10.199.0.1", nb.index("eth0")) in nb.routes()
        assert set(nb.links()) == {"lo", "eth0"}
        # the kernel's refusals come back as OSError with its errno
        with pytest.raises(FileExistsError):
            na.add_bridge("bbt0")
        with pytest.raises(OSError):
            nb.add_address("nosuch0", "10.1.1.1/24")
        r = subprocess.run(["nsenter", f"--net={b}", "busybox", "ping", "-c", "1", "-W", "3", "10.199.0.1"],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stdout + r.stderr
        r = subprocess.run(["nsenter", f"--net={b}", "busybox", "ip", "link", "show", "eth0"],
                           capture_output=True, text=True)
        assert "mtu 1400" in r.stdout and "link/ether 02:42:0a:c7:00:02" in r.stdout, r.stdout
        assert na.delete_link("vbbt0") and not na.delete_link("vbbt0")
        assert "eth0" not in nb.links()       # a veth pair goes as one
    assert Netlink().links() == host_links    # the test's own namespace was never touched
