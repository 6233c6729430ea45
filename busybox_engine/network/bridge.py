"""The bridge driver: a Linux bridge with the network's gateway address,
NAT and forward rules for its subnet, and for each container a veth pair
whose inner end is made directly in the container's network namespace as
eth0, with its address, MAC and default route."""
import hashlib
import ipaddress
import os

from busybox_engine.network import firewall
from busybox_engine.network.netlink import Netlink


def mac_for(ip: str) -> str:
    """02:42 and the IPv4 address, as Docker derives a container's MAC."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.ip_address(ip).packed)


def host_veth(container_id: str, network: str) -> str:
    """The host end's name: veth and 7 hex digits, stable for the pair."""
    return "veth" + hashlib.sha256(f"{container_id}/{network}".encode()).hexdigest()[:7]


def _forwarding() -> None:
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        on = f.read().strip() == "1"
    if not on:
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write("1")


def ensure_bridge(name: str, subnet: str, gateway: str, iptables: bool = True, icc: bool = True,
                  internal: bool = False, mtu: int = 0, hairpin: bool = False) -> None:
    """The bridge up with gateway/prefix, forwarding on and its rules in:
    what is there already is kept (a restarted daemon finds its bridge)."""
    plen = ipaddress.ip_network(subnet).prefixlen
    with Netlink() as nl:
        if not nl.exists(name):
            nl.add_bridge(name, mtu=mtu)
        want = f"{gateway}/{plen}"
        if want not in nl.addresses(name):
            nl.add_address(name, want)
        nl.set_link(name, up=True)
    if iptables:
        if not internal:
            _forwarding()
        if hairpin:   # 127.0.0.1 may be routed out of it (DNAT of a published port)
            with open(f"/proc/sys/net/ipv4/conf/{name}/route_localnet", "w") as f:
                f.write("1")
        rules = firewall.bridge_rules(name, subnet, icc=icc, internal=internal, hairpin=hairpin)
        if not hairpin:   # an earlier run's hairpin rule, the proxy back now
            firewall.remove_rules([r for r in firewall.bridge_rules(name, subnet, icc=icc, internal=internal,
                                                                    hairpin=True) if r not in rules])
        firewall.add_rules(rules)


def remove_bridge(name: str, subnet: str, iptables: bool = True, icc: bool = True, internal: bool = False,
                  hairpin: bool = False) -> None:
    if iptables:
        firewall.remove_rules(firewall.bridge_rules(name, subnet, icc=icc, internal=internal, hairpin=hairpin))
    with Netlink() as nl:
        nl.delete_link(name)


def attach(bridge: str, netns: str, host_end: str, ip: str, prefixlen: int, gateway: str,
           ifname: str = "eth0", mac: str = "", mtu: int = 0, default_route: bool = True) -> str:
    """Connect the namespace at netns to the bridge; its MAC is returned.
    On failure nothing of the pair is left."""
    mac = mac or mac_for(ip)
    fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with Netlink() as nl:
            nl.delete_link(host_end)        # a leftover of a crash: its name is ours
            nl.add_veth(host_end, ifname, peer_netns_fd=fd, mtu=mtu)
            try:
                nl.set_link(host_end, master=bridge, up=True)
                with Netlink(netns) as inner:
                    inner.set_link("lo", up=True)
                    inner.set_link(ifname, mac=mac, up=True)
                    inner.add_address(ifname, f"{ip}/{prefixlen}")
                    if default_route:
                        inner.add_route(gateway=gateway)
            except BaseException:
                nl.delete_link(host_end)
                raise
    finally:
        os.close(fd)
    return mac


def detach(host_end: str) -> None:
    """The pair goes with its host end (and with the namespace, when that ends first)."""
    with Netlink() as nl:
        nl.delete_link(host_end)
