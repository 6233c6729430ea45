"""IPAM: subnets from the default pools around what the host uses,
addresses handed out in turn, never twice, across a restart."""
import ipaddress

import pytest

from busybox_engine.network.ipam import IPAM, host_networks, pool_subnets
from busybox_engine.rpc.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound


def test_pools_skip_what_is_taken(tmp_path):
    ipam = IPAM(str(tmp_path / "ipam.json"))
    docker0 = ipaddress.ip_network("172.17.0.0/16")
    a = ipam.add_network("bridge", taken=[docker0])
    assert a["subnet"] == "172.18.0.0/16" and a["gateway"] == "172.18.0.1"
    b = ipam.add_network("user1", taken=[docker0])
    assert b["subnet"] == "172.19.0.0/16"
    with pytest.raises(AlreadyExists):
        ipam.add_network("user1")
    with pytest.raises(FailedPrecondition, match="overlaps"):
        ipam.add_network("clash", subnet="172.18.5.0/24")
    c = ipam.add_network("fixed", subnet="10.50.0.0/24", gateway="10.50.0.254", ip_range="10.50.0.128/25")
    assert (c["gateway"], c["range"]) == ("10.50.0.254", "10.50.0.128/25")
    with pytest.raises(InvalidArgument, match="gateway"):
        ipam.add_network("badgw", subnet="10.60.0.0/24", gateway="10.61.0.1")
    subnets = list(pool_subnets())
    assert len(subnets) == 15 + 16 and str(subnets[-1]) == "192.168.240.0/20"


def test_addresses_in_turn_never_twice_and_kept_across_a_restart(tmp_path):
    path = str(tmp_path / "ipam.json")
    ipam = IPAM(path)
    ipam.add_network("n", subnet="10.9.0.0/29")      # .1 gateway, .2-.6 usable
    got = [ipam.allocate("n", f"c{i}") for i in range(3)]
    assert got == ["10.9.0.2", "10.9.0.3", "10.9.0.4"]
    assert ipam.allocate("n", "c1") == "10.9.0.3"    # its own, again
    ipam.release("n", "c0")
    # a restart reads what was handed out: nothing is given twice
    ipam = IPAM(path)
    assert ipam.allocate("n", "c3") == "10.9.0.5"    # on from the last, not back to a freed one
    assert ipam.allocate("n", "c4") == "10.9.0.6"
    assert ipam.allocate("n", "c5") == "10.9.0.2"    # wrapped around to the freed one
    with pytest.raises(FailedPrecondition, match="no available"):
        ipam.allocate("n", "c6")
    ipam.release("n", "c3")
    with pytest.raises(FailedPrecondition, match="in use"):
        ipam.allocate("n", "c7", ip="10.9.0.4")
    assert ipam.allocate("n", "c7", ip="10.9.0.5") == "10.9.0.5"
    with pytest.raises(InvalidArgument):
        ipam.allocate("n", "c8", ip="10.10.0.9")
    assert sorted(ipam.leases("n").values()) == ["c1", "c2", "c4", "c5", "c7"]
    ipam.remove_network("n")
    with pytest.raises(NotFound):
        IPAM(path).allocate("n", "c9")


def test_host_networks_reads_this_hosts_routes():
    nets = host_networks()
    assert all(n.prefixlen > 0 for n in nets)
    assert any(ipaddress.ip_address("127.0.0.1") in n for n in nets)


def test_allocations_from_many_threads_are_distinct_and_saved(tmp_path):
    import threading
    path = str(tmp_path / "ipam.json")
    ipam = IPAM(path)
    ipam.add_network("n", subnet="10.40.0.0/24")
    got = []
    threads = [threading.Thread(target=lambda i=i: got.append(ipam.allocate("n", f"c{i}"))) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 40
    assert IPAM(path).leases("n") == ipam.leases("n")
