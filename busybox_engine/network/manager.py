"""dockerd's networks: the default bridge (bbe0 unless --bridge names
another, none for no bridge) and user-defined bridge networks (each a
bridge of its own, br-<id>), their address spaces in IPAM, and each
running container's endpoints on them."""
import hashlib
import ipaddress
import json
import os
import threading
import time

from busybox_engine.network import bridge as driver
from busybox_engine.network.ipam import IPAM, host_networks
from busybox_engine.rpc.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound

DEFAULT_BRIDGE = "bbe0"


class Networks:
    def __init__(self, data_root: str, bridge: str = "", bip: str = "", fixed_cidr: str = "",
                 iptables: bool = True, icc: bool = True, mtu: int = 0, pools=None, hairpin: bool = False):
        self.enabled = bridge != "none"
        self.hairpin = hairpin   # no userland proxy: published ports reached from the host by NAT
        from busybox_engine.network import firewall
        firewall.set_hairpin(hairpin)
        self.bridge = bridge or DEFAULT_BRIDGE
        self.bip, self.fixed_cidr = bip, fixed_cidr
        self.iptables, self.icc, self.mtu = iptables, icc, mtu
        self.ipam = IPAM(os.path.join(data_root, "network", "ipam.json"), pools)
        self.lock = threading.RLock()   # create/remove run in executor threads
        self.path = os.path.join(data_root, "network", "networks.json")
        try:
            with open(self.path) as f:
                self.user = json.load(f)     # name -> the network as inspect shows it
        except FileNotFoundError:
            self.user = {}

    def _save(self) -> None:
        from busybox_engine.util.atomicfile import atomic_write
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        atomic_write(self.path, json.dumps(self.user))

    def open(self) -> None:
        """The default bridge, made or found (with its rules), at daemon start,
        and the user networks' bridges."""
        for net in self.user.values():   # user networks outlive the daemon too
            self._ensure(net)
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
                             mtu=self.mtu, hairpin=self.hairpin)

    # --- user-defined networks -----------------------------------------------------------

    def bridge_of(self, network: str) -> str:
        if network == "bridge":
            return self.bridge
        return self.user[network]["Options"].get("com.docker.network.bridge.name") or \
            "br-" + self.user[network]["Id"][:12]

    def _rules_of(self, net: dict) -> dict:
        """What a user network's bridge rules depend on."""
        return {"icc": net["Options"].get("com.docker.network.bridge.enable_icc", "true") != "false",
                "internal": net["Internal"], "hairpin": self.hairpin}

    def _ensure(self, net: dict) -> None:
        n = self.ipam.network(net["Name"])
        driver.ensure_bridge(self.bridge_of(net["Name"]), n["subnet"], n["gateway"], iptables=self.iptables,
                             mtu=self.mtu, **self._rules_of(net))

    def find(self, ref: str) -> dict:
        """A user network by name, full id or id prefix (NotFound as Docker words it)."""
        if ref in self.user:
            return self.user[ref]
        hits = [n for n in self.user.values() if n["Id"] == ref] or \
            [n for n in self.user.values() if ref and n["Id"].startswith(ref)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise InvalidArgument(f"network {ref} is ambiguous ({len(hits)} matches found based on ID prefix)")
        raise NotFound(f"network {ref} not found")

    def create(self, body: dict) -> dict:
        """A bridge network from a /networks/create body."""
        with self.lock:
            return self._create(body)

    def _create(self, body: dict) -> dict:
        name = body["Name"]
        if name in self.user:
            raise AlreadyExists(f"network with name {name} already exists")
        drv = body.get("Driver") or "bridge"
        if drv != "bridge":
            raise NotFound(f"plugin \"{drv}\" not found")
        if body.get("EnableIPv6"):
            raise InvalidArgument("IPv6 networks are not supported by this daemon")
        ipam = body.get("IPAM") or {}
        configs = ipam.get("Config") or []
        if len(configs) > 1:
            raise InvalidArgument("only one IPv4 subnet per network is supported")
        cfg = configs[0] if configs else {}
        nid = hashlib.sha256(f"{name}/{time.time_ns()}/{os.getpid()}".encode()).hexdigest()
        opts = {str(k): str(v) for k, v in (body.get("Options") or {}).items()}
        bname = opts.get("com.docker.network.bridge.name") or "br-" + nid[:12]
        if len(bname) > 15:
            raise InvalidArgument(f"bridge name {bname} is longer than 15 characters")
        taken = []
        if not cfg.get("Subnet"):
            taken = host_networks()
        try:
            n = self.ipam.add_network(name, subnet=cfg.get("Subnet") or "", gateway=cfg.get("Gateway") or "",
                                      ip_range=cfg.get("IPRange") or "", taken=taken)
        except ValueError as e:
            raise InvalidArgument(str(e)) from None
        from busybox_engine.util.timefmt import rfc3339nano
        net = {"Name": name, "Id": nid, "Created": rfc3339nano(), "Scope": "local", "Driver": "bridge",
               "EnableIPv6": False,
               "IPAM": {"Driver": ipam.get("Driver") or "default", "Options": ipam.get("Options") or {},
                        "Config": [{"Subnet": n["subnet"], "Gateway": n["gateway"],
                                    **({"IPRange": cfg["IPRange"]} if cfg.get("IPRange") else {})}]},
               "Internal": bool(body.get("Internal")), "Attachable": bool(body.get("Attachable")),
               "Ingress": False, "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
               "Options": opts, "Labels": body.get("Labels") or {}}
        self.user[name] = net
        try:
            self._ensure(net)
        except BaseException:
            del self.user[name]
            self.ipam.remove_network(name)
            try:
                driver.remove_bridge(bname, n["subnet"], iptables=self.iptables, **self._rules_of(net))
            except OSError:
                pass
            raise
        self._save()
        return net

    def remove(self, name: str) -> None:
        with self.lock:
            self._remove(name)

    def _remove(self, name: str) -> None:
        net = self.user[name]
        if self.ipam.leases(name):
            raise FailedPrecondition(f"error while removing network: network {name} id {net['Id']} "
                                     "has active endpoints")
        n = self.ipam.network(name)
        driver.remove_bridge(self.bridge_of(name), n["subnet"], iptables=self.iptables, **self._rules_of(net))
        del self.user[name]
        self.ipam.remove_network(name)
        self._save()

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
                mac: str = "", ifname: str = "eth0", default_route: bool = True) -> dict:
        """The container's endpoint on the network: an address leased, the
        veth pair made; what inspect shows of it is returned."""
        n = self.ipam.network(network)
        addr = self.ipam.allocate(network, container_id, ip)
        plen = ipaddress.ip_network(n["subnet"]).prefixlen
        host_end = driver.host_veth(container_id, network)
        internal = network != "bridge" and self.user[network]["Internal"]
        try:
            mac = driver.attach(self.bridge_of(network), netns, host_end, addr, plen, n["gateway"], mac=mac,
                                mtu=self.mtu, ifname=ifname, default_route=default_route and not internal)
        except BaseException:
            self.ipam.release(network, container_id)
            raise
        ep = {"IPAddress": addr, "IPPrefixLen": plen, "Gateway": n["gateway"], "MacAddress": mac,
              "EndpointID": hashlib.sha256(f"{container_id}/{network}/endpoint".encode()).hexdigest()}
        return ep

    def disconnect(self, container_id: str, network: str | None = None) -> None:
        """The lease given back and the pair removed (all networks when None)."""
        nets = [network] if network else [name for name, n in self.ipam.nets.items()
                                          if container_id in n["leases"].values()]
        for name in nets:
            try:
                driver.detach(driver.host_veth(container_id, name))
            finally:   # the lease goes back even if the kernel was already taking the pair down
                self.ipam.release(name, container_id)
