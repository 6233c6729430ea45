import pytest

from busybox_engine.network import firewall
from busybox_engine.network.netlink import Netlink
from tests.engine_api.conftest import busybox_archive, dockerd  # noqa: F401 - shared fixtures
from tests.runtime.conftest import mounts_under, rootfs_template  # noqa: F401 - shared fixtures

BRIDGE, BIP = "bbt0", "10.213.0.1/24"


@pytest.fixture
def bridged(dockerd):
    """Our dockerd with a default bridge of the test's own (bbt0,
    10.213.0.0/24); afterwards its containers, user networks, bridges and
    rules are gone."""
    dockerd.stop()
    dockerd.start("--bridge", BRIDGE, "--bip", BIP)
    try:
        yield dockerd
    finally:
        for c in dockerd.docker("ps", "-aq").stdout.split():
            dockerd.docker("rm", "-f", c)
        dockerd.docker("network", "prune", "-f")
        with Netlink() as nl:
            for name, (_i, _up, _m, kind) in nl.links().items():
                if kind == "bridge" and (name == BRIDGE or name.startswith("br-")):
                    nl.delete_link(name)   # what prune could not remove: the test fails on the leftover check
        firewall.remove_rules(firewall.bridge_rules(BRIDGE, "10.213.0.0/24", hairpin=True))
        if not firewall.listed("filter", "BBE-FORWARD") and not firewall.listed("nat", "BBE-POSTROUTING"):
            firewall.remove_chains()
