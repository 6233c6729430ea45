"""dockerd's networks: the default bridge (bbe0 unless --bridge names
another, none for no bridge), its address space in IPAM, and each
running container's endpoint on it."""
import hashlib
import ipaddress
import os

from busybox_engine.network import bridge as driver
from busybox_engine.network.ipam import IPAM, host_networks
from busybox_engine.rpc.errors import InvalidArgument

DEFAULT_BRIDGE = "bbe0"


class Networks:
    def __init__(self, data_root: str, bridge: str = "", bip: str = "", fixed_cidr: str = "",
                 iptables: bool = True, icc: bool = True, mtu: int = 0, pools=None):
        self.enabled = bridge != "none"
        self.bridge = bridge or DEFAULT_BRIDGE
        self.bip, self.fixed_cidr = bip, fixed_cidr
        self.iptables, self.icc, self.mtu = iptables, icc, mtu
        self.ipam = IPAM(os.path.join(data_root, "network", "ipam.json"), pools)
        self.endpoints = {}    # container id -> {network: endpoint settings}

    def open(self) -> None:
        """The default bridge, made or found (with its rules), at daemon start."""
        if not self.enabled:
            return
        subnet = gateway = ""
        if self.bip:
            try:
                iface = ipaddress.ip_interface(self.bip)
            except ValueError:
                raise InvalidArgument(f"invalid --bip: {self.bip}") from None
            subnet, gateway = str(iface.network), str(iface.ip)
        have = self.ipam.nets.get("bridge")
        if have and subnet and (have["subnet"], have["gateway"]) != (subnet, gateway):
            self.ipam.remove_network("bridge")      # --bip changed: the new space replaces the old
            have = None
        if have is None:
            # the host's routes, less our own bridge's (a bridge left by an earlier run is ours to reuse)
            own = self._bridge_networks()
            taken = [n for n in host_networks() if n not in own]
            self.ipam.add_network("bridge", subnet=subnet, gateway=gateway, ip_range=self.fixed_cidr,
                                  taken=taken)
        n = self.ipam.network("bridge")
        driver.ensure_bridge(self.bridge, n["subnet"], n["gateway"], iptables=self.iptables, icc=self.icc,
                             mtu=self.mtu)

    def _bridge_networks(self) -> list:
        from busybox_engine.network.netlink import Netlink
        with Netlink() as nl:
            if not nl.exists(self.bridge):
                return []
            return [ipaddress.ip_interface(a).network for a in nl.addresses(self.bridge)]

    def subnet(self, network: str = "bridge") -> dict:
        """{"Subnet", "Gateway"} of a network, as /networks shows its IPAM config."""
        n = self.ipam.nets.get(network)
        return {"Subnet": n["subnet"], "Gateway": n["gateway"]} if n else {}

    def connect(self, container_id: str, netns: str, network: str = "bridge", ip: str = "",
                mac: str = "") -> dict:
        """The container's endpoint on the network: an address leased, the
        veth pair made; what inspect shows of it is returned."""
        n = self.ipam.network(network)
        addr = self.ipam.allocate(network, container_id, ip)
        plen = ipaddress.ip_network(n["subnet"]).prefixlen
        host_end = driver.host_veth(container_id, network)
        try:
            mac = driver.attach(self.bridge, netns, host_end, addr, plen, n["gateway"], mac=mac, mtu=self.mtu)
        except BaseException:
            self.ipam.release(network, container_id)
            raise
        ep = {"IPAddress": addr, "IPPrefixLen": plen, "Gateway": n["gateway"], "MacAddress": mac,
              "EndpointID": hashlib.sha256(f"{container_id}/{network}/endpoint".encode()).hexdigest()}
        self.endpoints.setdefault(container_id, {})[network] = ep
        return ep

    def disconnect(self, container_id: str, network: str | None = None) -> None:
        """The lease given back and the pair removed (all networks when None)."""
        nets = [network] if network else [name for name, n in self.ipam.nets.items()
                                          if container_id in n["leases"].values()]
        for name in nets:
            self.ipam.release(name, container_id)
            driver.detach(driver.host_veth(container_id, name))
            self.endpoints.get(container_id, {}).pop(name, None)
        if not self.endpoints.get(container_id):
            self.endpoints.pop(container_id, None)
