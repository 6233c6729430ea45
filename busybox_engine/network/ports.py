"""Published ports (-p, -P): for each, a host port (the one asked for, or
one of 49153-60999 as Docker picks them), DNAT rules that send traffic
for it from outside to the container, and a userland proxy in dockerd's
event loop (as docker-proxy) for what the host sends to itself
(127.0.0.1 is never DNATed). Errors are Docker's."""
import asyncio
import errno
import socket

from busybox_engine.network import firewall
from busybox_engine.rpc.errors import FailedPrecondition

EPHEMERAL = (49153, 60999)
PROXY_BUFFER = 1 << 16


def wanted(host_config: dict, config: dict) -> list:
    """[(proto, container port, host ip, host port spec)] of PortBindings,
    and of each exposed port when PublishAllPorts (random host ports)."""
    out = []
    bindings = dict(host_config.get("PortBindings") or {})
    if host_config.get("PublishAllPorts"):
        for port in config.get("ExposedPorts") or {}:
            bindings.setdefault(port, [{"HostIp": "", "HostPort": ""}])
    for key, binds in bindings.items():
        port, _, proto = str(key).partition("/")
        for b in binds or [{"HostIp": "", "HostPort": ""}]:
            out.append((proto or "tcp", int(port), (b or {}).get("HostIp") or "",
                        str((b or {}).get("HostPort") or "")))
    return out


def _port_range(spec: str) -> tuple:
    if not spec:
        return EPHEMERAL
    a, _, b = spec.partition("-")
    return int(a), int(b or a)


class _TCPProxy(asyncio.Protocol):
    """One accepted connection, copied to and from the container."""

    def __init__(self, target: tuple):
        self.target = target
        self.peer = None
        self.pending = []

    def connection_made(self, transport):
        self.transport = transport
        asyncio.ensure_future(self._connect())

    async def _connect(self):
        loop = asyncio.get_running_loop()
        try:
            _t, self.peer = await loop.create_connection(lambda: _Back(self), *self.target)
        except OSError:
            self.transport.close()
            return
        for data in self.pending:
            self.peer.transport.write(data)
        self.pending = None

    def data_received(self, data):
        if self.pending is not None:
            self.pending.append(data)
        else:
            self.peer.transport.write(data)

    def eof_received(self):
        if self.peer is not None and self.peer.transport.can_write_eof():
            self.peer.transport.write_eof()
        return True   # half-closed: answers may still come

    def connection_lost(self, exc):
        if self.peer is not None:
            self.peer.transport.close()


class _Back(asyncio.Protocol):
    def __init__(self, front: _TCPProxy):
        self.front = front

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.front.transport.write(data)

    def eof_received(self):
        if self.front.transport.can_write_eof():
            self.front.transport.write_eof()
        return True

    def connection_lost(self, exc):
        self.front.transport.close()


class _UDPProxy(asyncio.DatagramProtocol):
    """Datagrams to the container; its answers back to whoever sent."""

    def __init__(self, target: tuple):
        self.target = target
        self.clients = {}

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        back = self.clients.get(addr)
        if back is None:
            back = self.clients[addr] = _UDPBack(self, addr)
            loop = asyncio.get_running_loop()
            asyncio.ensure_future(loop.create_datagram_endpoint(lambda: back, remote_addr=self.target))
        back.send(data)

    def close(self):
        self.transport.close()
        for back in self.clients.values():
            back.close()


class _UDPBack(asyncio.DatagramProtocol):
    def __init__(self, front, addr):
        self.front, self.addr, self.transport, self.queue = front, addr, None, []

    def connection_made(self, transport):
        self.transport = transport
        for data in self.queue:
            transport.sendto(data)
        self.queue = []

    def send(self, data):
        if self.transport is None:
            self.queue.append(data)
        else:
            self.transport.sendto(data)

    def datagram_received(self, data, addr):
        self.front.transport.sendto(data, self.addr)

    def close(self):
        if self.transport is not None:
            self.transport.close()


class Ports:
    """Every published port of this daemon: {(proto, host ip, host port): container id}."""

    def __init__(self, bridge: str, iptables: bool = True, userland_proxy: bool = True):
        self.bridge = bridge
        self.iptables = iptables
        self.userland_proxy = userland_proxy
        self.taken = {}
        self.by_container = {}   # id -> [(key, rules, server)]

    def _rules(self, proto, host_ip, host_port, ip, port, bridge) -> list:
        dst = ["-d", f"{host_ip}/32"] if host_ip not in ("", "0.0.0.0") else []
        m = ["-p", proto, "-m", proto]
        return [("nat", "BBE-DNAT", [*dst, "!", "-i", bridge, *m, "--dport", str(host_port),
                                     "-j", "DNAT", "--to-destination", f"{ip}:{port}"]),
                ("nat", "BBE-POSTROUTING", ["-s", f"{ip}/32", "-d", f"{ip}/32", *m, "--dport", str(port),
                                            "-j", "MASQUERADE"]),
                ("filter", "BBE-FORWARD", ["-d", f"{ip}/32", "!", "-i", bridge, "-o", bridge, *m,
                                           "--dport", str(port), "-j", "ACCEPT"])]

    async def _listen(self, proto: str, host_ip: str, host_port: int, target: tuple):
        loop = asyncio.get_running_loop()
        bind = host_ip or "0.0.0.0"
        if proto == "udp":
            transport, proto_obj = await loop.create_datagram_endpoint(
                lambda: _UDPProxy(target), local_addr=(bind, host_port), family=socket.AF_INET)
            return proto_obj
        return await loop.create_server(lambda: _TCPProxy(target), bind, host_port, family=socket.AF_INET,
                                        reuse_address=True)

    async def publish(self, cid: str, name: str, endpoint_id: str, ip: str, host_config: dict,
                      config: dict, bridge: str = "", republish: bool = False) -> dict:
        """NetworkSettings.Ports of the container once its ports are
        published; on any failure nothing of them is left."""
        ports = {}
        for key in (config.get("ExposedPorts") or {}):
            ports.setdefault(key, None)
        done = self.by_container.setdefault(cid, [])
        try:
            for proto, cport, host_ip, spec in wanted(host_config, config):
                lo, hi = _port_range(spec)
                server = None
                chosen = None
                last_error = None
                for hp in range(lo, hi + 1):
                    key = (proto, host_ip or "0.0.0.0", hp)
                    if key in self.taken or (proto, "0.0.0.0", hp) in self.taken:
                        last_error = "allocated"
                        continue
                    try:
                        server = await self._listen(proto, host_ip, hp, (ip, cport)) if self.userland_proxy else None
                    except OSError as e:
                        last_error = e
                        if spec and lo == hi:
                            break
                        continue
                    chosen = hp
                    break
                if chosen is None:
                    where = f"{host_ip or '0.0.0.0'}:{spec or 'any'}"
                    if last_error == "allocated":
                        raise FailedPrecondition(
                            f"driver failed programming external connectivity on endpoint {name} "
                            f"({endpoint_id}): Bind for {where} failed: port is already allocated")
                    why = "bind: address already in use" if getattr(last_error, "errno", 0) == errno.EADDRINUSE \
                        else str(last_error)
                    raise FailedPrecondition(
                        f"driver failed programming external connectivity on endpoint {name} ({endpoint_id}): "
                        f"Error starting userland proxy: listen {proto}4 {where}: {why}")
                key = (proto, host_ip or "0.0.0.0", chosen)
                self.taken[key] = cid
                rules = self._rules(proto, host_ip, chosen, ip, cport, bridge or self.bridge) if self.iptables else []
                done.append((key, rules, server))
                if rules:
                    add = firewall.add_rules if republish else firewall.add_new_rules
                    await asyncio.get_running_loop().run_in_executor(None, add, rules)
                ports.setdefault(f"{cport}/{proto}", None)
                ports[f"{cport}/{proto}"] = (ports[f"{cport}/{proto}"] or []) + [
                    {"HostIp": host_ip or "0.0.0.0", "HostPort": str(chosen)}]
        except BaseException:
            await self.unpublish(cid)
            raise
        return ports

    async def unpublish(self, cid: str) -> None:
        for key, rules, server in self.by_container.pop(cid, []):
            self.taken.pop(key, None)
            if server is not None:
                server.close()
            if rules:
                await asyncio.get_running_loop().run_in_executor(None, firewall.remove_rules_batch, rules)
