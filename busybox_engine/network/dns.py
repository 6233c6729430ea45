"""The embedded DNS server at 127.0.0.11 of containers on user-defined
networks: names of the containers (and their aliases, short ids) that
share a network with the asker are answered from dockerd's records; other
questions go to the host's resolvers and their answers come back.

One UDP socket per container, made inside its network namespace (bound
to 127.0.0.11:53 there, so no NAT is needed) and served by dockerd's
event loop. The wire format is RFC 1035's: a header, the question, A
records; anything this server cannot read gets FORMERR."""
import asyncio
import socket
import struct

TYPE_A, TYPE_AAAA, CLASS_IN = 1, 28, 1
TTL = 600
FORMERR, SERVFAIL, NXDOMAIN = 1, 2, 3
ADDRESS = "127.0.0.11"


class FormatError(ValueError):
    pass


def parse_question(msg: bytes) -> tuple:
    """(id, flags, qname, qtype, qclass, end of the question) of a query."""
    if len(msg) < 12:
        raise FormatError("short header")
    qid, flags, qd, _an, _ns, _ar = struct.unpack("!HHHHHH", msg[:12])
    if qd != 1:
        raise FormatError("one question expected")
    labels, pos = [], 12
    while True:
        if pos >= len(msg):
            raise FormatError("name runs past the message")
        n = msg[pos]
        pos += 1
        if n == 0:
            break
        if n & 0xC0:
            raise FormatError("compressed question name")
        labels.append(msg[pos:pos + n].decode("ascii", "replace"))
        pos += n
        if len(labels) > 127:
            raise FormatError("name too long")
    if pos + 4 > len(msg):
        raise FormatError("short question")
    qtype, qclass = struct.unpack("!HH", msg[pos:pos + 4])
    return qid, flags, ".".join(labels), qtype, qclass, pos + 4


def response(query: bytes, qend: int, rcode: int, addresses: list = ()) -> bytes:
    """An answer to query: its question, then A records for addresses."""
    qid, flags = struct.unpack("!HH", query[:4])
    flags = 0x8000 | (flags & 0x0100) | 0x0080 | 0x0400 | rcode   # QR, RD copied, RA, AA
    head = struct.pack("!HHHHHH", qid, flags, 1, len(addresses), 0, 0)
    out = head + query[12:qend]
    for a in addresses:
        out += struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, TTL, 4) + socket.inet_aton(a)
    return out


def error(query: bytes, rcode: int) -> bytes:
    qid = struct.unpack("!H", query[:2])[0] if len(query) >= 2 else 0
    return struct.pack("!HHHHHH", qid, 0x8000 | 0x0080 | rcode, 0, 0, 0, 0)


def upstreams(path: str = "/etc/resolv.conf") -> list:
    """The host's nameservers (dockerd asks them from the host's namespace)."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if parts[:1] == ["nameserver"] and len(parts) > 1 and ":" not in parts[1]:
                    out.append(parts[1])
    except OSError:
        pass
    return out


class _Server(asyncio.DatagramProtocol):
    def __init__(self, resolve, forward_to):
        self.resolve = resolve          # name -> [addresses] or None (not ours)
        self.forward_to = forward_to    # () -> [upstream addresses]

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        try:
            _qid, _flags, name, qtype, qclass, qend = parse_question(data)
        except FormatError:
            self.transport.sendto(error(data, FORMERR), addr)
            return
        found = self.resolve(name.rstrip(".").lower()) if qclass == CLASS_IN else None
        if found is not None:
            # ours: A records; any other type of a name of ours has no records
            self.transport.sendto(response(data, qend, 0, found if qtype == TYPE_A else []), addr)
            return
        asyncio.ensure_future(self._forward(data, addr))

    async def _forward(self, data: bytes, addr) -> None:
        loop = asyncio.get_running_loop()
        for server in self.forward_to() or []:
            try:
                answer = await asyncio.wait_for(_ask(loop, server, data), 3)
            except (OSError, asyncio.TimeoutError):
                continue
            self.transport.sendto(answer, addr)
            return
        self.transport.sendto(error(data, SERVFAIL), addr)


async def _ask(loop, server: str, data: bytes) -> bytes:
    got = loop.create_future()

    class Once(asyncio.DatagramProtocol):
        def datagram_received(self, reply, _addr):
            if not got.done():
                got.set_result(reply)

        def error_received(self, exc):
            if not got.done():
                got.set_exception(exc)
    transport, _ = await loop.create_datagram_endpoint(Once, remote_addr=(server, 53))
    try:
        transport.sendto(data)
        return await got
    finally:
        transport.close()


def _socket_in(netns: str) -> socket.socket:
    from busybox_engine.network.netlink import in_netns

    def make():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        s.bind((ADDRESS, 53))
        s.setblocking(False)
        return s
    return in_netns(netns, make)


class Resolver:
    """The DNS servers of every container on a user network, by container id."""

    def __init__(self, lookup):
        """lookup(container id, name) -> [addresses] or None."""
        self.lookup = lookup
        self.servers = {}

    async def serve(self, cid: str, netns: str, dns: list | None = None) -> None:
        """A server for the container: other names go to its --dns servers, else the host's."""
        if cid in self.servers:
            return
        loop = asyncio.get_running_loop()
        sock = await loop.run_in_executor(None, _socket_in, netns)
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Server(lambda name: self.lookup(cid, name), lambda: list(dns or []) or upstreams()),
            sock=sock)
        self.servers[cid] = transport

    def stop(self, cid: str) -> None:
        t = self.servers.pop(cid, None)
        if t is not None:
            t.close()


def resolv_conf(host_text: str, dns_search: list, dns_options: list) -> str:
    """A user network container's /etc/resolv.conf: the embedded server,
    the host's (or the container's) search domains, ndots:0 as Docker sets."""
    search = [line for line in host_text.splitlines() if line.split()[:1] in (["search"], ["domain"])]
    out = [f"search {' '.join(dns_search)}"] if dns_search else search
    out.append(f"nameserver {ADDRESS}")
    out.append("options " + " ".join(["ndots:0", *dns_options]))
    return "\n".join(out) + "\n"

