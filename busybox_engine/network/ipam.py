"""IPv4 address management: each network's subnet and gateway, and which
address each endpoint holds, kept in one JSON file written atomically
(so a crash or restart never hands out an address twice).

Subnets come, as Docker's default address pools give them, from
172.17.0.0/16 ... 172.31.0.0/16 then 192.168.0.0/20 ... 192.168.240.0/20,
skipping any that overlaps a route or address of the host or another
network (a Docker daemon's docker0 beside us included)."""
import functools
import ipaddress
import json
import os
import threading

from busybox_engine.rpc.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound

DEFAULT_POOLS = [(f"172.{i}.0.0/16", 16) for i in range(17, 32)] + [("192.168.0.0/16", 20)]


def pool_subnets(pools=None):
    """Every candidate subnet of the pools, in order."""
    for base, size in pools or DEFAULT_POOLS:
        yield from ipaddress.ip_network(base).subnets(new_prefix=size)


def _overlaps(net, taken) -> bool:
    return any(net.overlaps(t) for t in taken)


def host_networks() -> list:
    """The host's routes and address prefixes (no default route): what a
    new subnet must not overlap."""
    from busybox_engine.network.netlink import Netlink
    out = []
    with Netlink() as nl:
        for dst, _gw, _oif in nl.routes():
            if not dst.endswith("/0"):
                out.append(ipaddress.ip_network(dst, strict=False))
        for cidr in nl.addresses():
            out.append(ipaddress.ip_interface(cidr).network)
    return out


def _locked(method):
    """dockerd calls these from its executor threads: one at a time."""
    @functools.wraps(method)
    def run(self, *args, **kw):
        with self.lock:
            return method(self, *args, **kw)
    return run


class IPAM:
    def __init__(self, path: str, pools=None):
        self.lock = threading.RLock()
        self.path = path
        self.pools = pools
        self.nets = {}
        try:
            with open(path) as f:
                self.nets = json.load(f).get("networks") or {}
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as e:
            raise FailedPrecondition(f"ipam state {path}: {e}") from None

    def _save(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"networks": self.nets}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    # --- networks ----------------------------------------------------------------------

    @_locked
    def add_network(self, name: str, subnet: str = "", gateway: str = "", ip_range: str = "",
                    taken=None) -> dict:
        """{"subnet", "gateway", "range"} of a new network: subnet as given or
        the first free one of the pools (taken: extra networks to avoid)."""
        if name in self.nets:
            raise AlreadyExists(f"network {name} has an address space already")
        used = [ipaddress.ip_network(n["subnet"]) for n in self.nets.values()] + list(taken or [])
        if subnet:
            try:
                net = ipaddress.ip_network(subnet, strict=False)
            except ValueError:
                raise InvalidArgument(f"invalid CIDR address: {subnet}") from None
            if net.version != 4:
                raise InvalidArgument(f"only IPv4 subnets are supported: {subnet}")
            mine = [ipaddress.ip_network(n["subnet"]) for n in self.nets.values()]
            if _overlaps(net, mine):
                raise FailedPrecondition("Pool overlaps with other one on this address space")
        else:
            net = next((n for n in pool_subnets(self.pools) if not _overlaps(n, used)), None)
            if net is None:
                raise FailedPrecondition("could not find an available, non-overlapping IPv4 address pool "
                                         "among the defaults to assign to the network")
        if gateway:
            gw = ipaddress.ip_address(gateway)
            if gw not in net:
                raise InvalidArgument(f"no matching subnet for gateway {gateway}")
        else:
            gw = net.network_address + 1
        rng = ipaddress.ip_network(ip_range, strict=False) if ip_range else net
        if not rng.subnet_of(net):
            raise InvalidArgument(f"no matching subnet for range {ip_range}")
        self.nets[name] = {"subnet": str(net), "gateway": str(gw), "range": str(rng), "leases": {}, "last": ""}
        self._save()
        return dict(self.nets[name])

    @_locked
    def remove_network(self, name: str) -> None:
        if self.nets.pop(name, None) is not None:
            self._save()

    def network(self, name: str) -> dict:
        try:
            return self.nets[name]
        except KeyError:
            raise NotFound(f"network {name} has no address space") from None

    # --- addresses ---------------------------------------------------------------------

    @_locked
    def allocate(self, name: str, owner: str, ip: str = "") -> str:
        """An address of the network for owner ("10.0.0.2"): the one asked
        for, else the next free after the last given out (as Docker cycles
        through a range before reusing an address). The same owner gets
        the address it holds."""
        n = self.network(name)
        for addr, who in n["leases"].items():
            if who == owner and (not ip or ip == addr):
                return addr
        net = ipaddress.ip_network(n["subnet"])
        rng = ipaddress.ip_network(n["range"])
        reserved = {str(net.network_address), str(net.broadcast_address), n["gateway"]}
        if ip:
            a = ipaddress.ip_address(ip)
            if a not in net:
                raise InvalidArgument(f"no available IPv4 address on this network's address pools: "
                                      f"{name} ({ip} is not in {net})")
            if ip in n["leases"] or ip in reserved:
                raise FailedPrecondition("Address already in use")
            chosen = ip
        else:
            hosts = rng.num_addresses
            start = int(rng.network_address)
            last = int(ipaddress.ip_address(n["last"])) - start if n["last"] else -1
            chosen = None
            for step in range(1, hosts + 1):
                cand = str(ipaddress.ip_address(start + (last + step) % hosts))
                if cand not in n["leases"] and cand not in reserved:
                    chosen = cand
                    break
            if chosen is None:
                raise FailedPrecondition(f"no available IPv4 addresses on this network's address pools: "
                                         f"{name}")
            n["last"] = chosen
        n["leases"][chosen] = owner
        self._save()
        return chosen

    @_locked
    def release(self, name: str, owner: str) -> None:
        n = self.nets.get(name)
        if n is None:
            return
        gone = [a for a, who in n["leases"].items() if who == owner]
        for a in gone:
            del n["leases"][a]
        if gone:
            self._save()

    def leases(self, name: str) -> dict:
        return dict(self.network(name)["leases"])
