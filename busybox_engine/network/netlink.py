"""rtnetlink, the little of it container networking needs: links (a
bridge, veth pairs) with their state, master, MTU, MAC and namespace;
IPv4 addresses and routes. Each change is one request and its
acknowledgement; a refusal is OSError with the kernel's errno.

Hand-written over the socket module (a few hundred lines of message
layout) rather than a general netlink library: dockerd needs these dozen
requests, and nothing else of it pays for more."""
import os
import socket
import struct
import threading

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
NLMSG_ERROR, NLMSG_DONE = 2, 3
F_REQUEST, F_ACK, F_EXCL, F_CREATE, F_DUMP = 0x1, 0x4, 0x200, 0x400, 0x300

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER = 1, 3, 4, 10
IFLA_LINKINFO, IFLA_NET_NS_FD = 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFF_UP = 0x1
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
RTA_DST, RTA_OIF, RTA_GATEWAY = 1, 4, 5
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RTN_UNICAST = 254, 3, 0, 253, 1
CLONE_NEWNET = 0x40000000

_HDR = struct.Struct("=IHHII")        # nlmsghdr
_IFINFO = struct.Struct("=BxHiII")    # ifinfomsg
_IFADDR = struct.Struct("=BBBBI")     # ifaddrmsg
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg


def _attr(kind: int, data: bytes) -> bytes:
    n = 4 + len(data)
    return struct.pack("=HH", n, kind) + data + b"\0" * ((4 - n % 4) % 4)


def _attrs(data: bytes, offset: int) -> dict:
    """{type: payload} of the attributes from offset on (the last of a type wins)."""
    out = {}
    while offset + 4 <= len(data):
        n, kind = struct.unpack_from("=HH", data, offset)
        if n < 4:
            break
        out[kind & 0x3FFF] = data[offset + 4:offset + n]
        offset += (n + 3) & ~3
    return out


def _name(text: str) -> bytes:
    return text.encode() + b"\0"


def _ipv4(cidr: str) -> tuple:
    addr, _, plen = cidr.partition("/")
    return socket.inet_aton(addr), int(plen) if plen else 32


class Netlink:
    """A NETLINK_ROUTE socket, in this process's network namespace or in
    the one at netns (a /proc/PID/ns/net path or a bind mount of it)."""

    def __init__(self, netns: str | None = None):
        self.seq = 0
        if netns is None:
            self.sock = self._open()
        else:
            self.sock = in_netns(netns, self._open)

    @staticmethod
    def _open() -> socket.socket:
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
        s.bind((0, 0))
        return s

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- the exchange ------------------------------------------------------------------

    def _request(self, kind: int, flags: int, body: bytes) -> list:
        """Send one request; the messages of its answer (a dump's parts), or
        OSError for the kernel's refusal."""
        self.seq += 1
        seq = self.seq
        self.sock.send(_HDR.pack(_HDR.size + len(body), kind, F_REQUEST | flags, seq, 0) + body)
        out = []
        while True:
            data = self.sock.recv(1 << 16)
            off = 0
            while off + _HDR.size <= len(data):
                n, mtype, _mflags, mseq, _pid = _HDR.unpack_from(data, off)
                payload = data[off + _HDR.size:off + n]
                off += (n + 3) & ~3
                if mseq != seq:
                    continue
                if mtype == NLMSG_ERROR:
                    err = -struct.unpack_from("=i", payload)[0]
                    if err:
                        raise OSError(err, os.strerror(err))
                    return out          # the acknowledgement
                if mtype == NLMSG_DONE:
                    return out
                out.append((mtype, payload))
                if not flags & F_DUMP:
                    return out

    def _link(self, kind: int, flags: int, index: int = 0, up: bool | None = None, attrs: bytes = b"") -> list:
        iff = IFF_UP if up else 0
        change = IFF_UP if up is not None else 0
        return self._request(kind, flags, _IFINFO.pack(socket.AF_UNSPEC, 0, index, iff, change) + attrs)

    # --- links -------------------------------------------------------------------------

    def links(self) -> dict:
        """{name: (index, is up, master index or 0, kind)} of every link here."""
        out = {}
        for _mtype, payload in self._link(RTM_GETLINK, F_DUMP):
            _fam, _type, index, flags, _change = _IFINFO.unpack_from(payload)
            a = _attrs(payload, _IFINFO.size)
            name = a.get(IFLA_IFNAME, b"").rstrip(b"\0").decode()
            master = struct.unpack("=I", a[IFLA_MASTER])[0] if IFLA_MASTER in a else 0
            kind = ""
            if IFLA_LINKINFO in a:
                kind = _attrs(a[IFLA_LINKINFO], 0).get(IFLA_INFO_KIND, b"").rstrip(b"\0").decode()
            out[name] = (index, bool(flags & IFF_UP), master, kind)
        return out

    def index(self, name: str) -> int:
        got = self._link(RTM_GETLINK, 0, attrs=_attr(IFLA_IFNAME, _name(name)))
        return _IFINFO.unpack_from(got[0][1])[2]

    def exists(self, name: str) -> bool:
        try:
            self.index(name)
            return True
        except OSError as e:
            if e.errno in (19, 2):    # ENODEV, ENOENT
                return False
            raise

    def add_bridge(self, name: str, mtu: int = 0) -> None:
        attrs = _attr(IFLA_IFNAME, _name(name)) + _attr(IFLA_LINKINFO, _attr(IFLA_INFO_KIND, b"bridge"))
        if mtu:
            attrs += _attr(IFLA_MTU, struct.pack("=I", mtu))
        self._link(RTM_NEWLINK, F_CREATE | F_EXCL | F_ACK, attrs=attrs)

    def add_veth(self, name: str, peer: str, peer_netns_fd: int | None = None, mtu: int = 0) -> None:
        """A veth pair: name here, peer here or already in the namespace
        of peer_netns_fd (it is made there: no window where it is ours)."""
        peer_attrs = _attr(IFLA_IFNAME, _name(peer))
        if peer_netns_fd is not None:
            peer_attrs += _attr(IFLA_NET_NS_FD, struct.pack("=I", peer_netns_fd))
        if mtu:
            peer_attrs += _attr(IFLA_MTU, struct.pack("=I", mtu))
        peer_msg = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + peer_attrs
        info = _attr(IFLA_INFO_KIND, b"veth") + _attr(IFLA_INFO_DATA, _attr(VETH_INFO_PEER, peer_msg))
        attrs = _attr(IFLA_IFNAME, _name(name)) + _attr(IFLA_LINKINFO, info)
        if mtu:
            attrs += _attr(IFLA_MTU, struct.pack("=I", mtu))
        self._link(RTM_NEWLINK, F_CREATE | F_EXCL | F_ACK, attrs=attrs)

    def set_link(self, name: str, up: bool | None = None, master: str | None = None, mtu: int = 0,
                 mac: str = "", new_name: str = "", netns_fd: int | None = None) -> None:
        attrs = b""
        if master is not None:
            attrs += _attr(IFLA_MASTER, struct.pack("=I", self.index(master) if master else 0))
        if mtu:
            attrs += _attr(IFLA_MTU, struct.pack("=I", mtu))
        if mac:
            attrs += _attr(IFLA_ADDRESS, bytes(int(x, 16) for x in mac.split(":")))
        if new_name:
            attrs += _attr(IFLA_IFNAME, _name(new_name))
        if netns_fd is not None:
            attrs += _attr(IFLA_NET_NS_FD, struct.pack("=I", netns_fd))
        self._link(RTM_NEWLINK, F_ACK, index=self.index(name), up=up, attrs=attrs)

    def delete_link(self, name: str) -> bool:
        """False when there was no such link."""
        try:
            self._link(RTM_DELLINK, F_ACK, index=self.index(name))
            return True
        except OSError as e:
            if e.errno in (19, 2):
                return False
            raise

    # --- addresses and routes ----------------------------------------------------------

    def add_address(self, name: str, cidr: str) -> None:
        """An IPv4 address with its prefix length (10.0.0.2/24)."""
        addr, plen = _ipv4(cidr)
        host = struct.unpack("!I", addr)[0]
        bcast = struct.pack("!I", host | ((1 << (32 - plen)) - 1)) if plen < 31 else addr
        body = _IFADDR.pack(socket.AF_INET, plen, 0, RT_SCOPE_UNIVERSE, self.index(name))
        body += _attr(IFA_LOCAL, addr) + _attr(IFA_ADDRESS, addr) + _attr(IFA_BROADCAST, bcast)
        self._request(RTM_NEWADDR, F_CREATE | F_EXCL | F_ACK, body)

    def addresses(self, name: str | None = None) -> list:
        """["10.0.0.2/24", ...] of one link (or all)."""
        want = self.index(name) if name else None
        out = []
        for _mtype, payload in self._request(RTM_GETADDR, F_DUMP, _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0)):
            _fam, plen, _flags, _scope, index = _IFADDR.unpack_from(payload)
            a = _attrs(payload, _IFADDR.size)
            addr = a.get(IFA_LOCAL) or a.get(IFA_ADDRESS)
            if addr and (want is None or index == want):
                out.append(f"{socket.inet_ntoa(addr)}/{plen}")
        return out

    def add_route(self, dst: str = "", gateway: str = "", dev: str = "") -> None:
        """dst "" is the default route; a gateway, or a device for a link route."""
        daddr, dlen = _ipv4(dst) if dst else (b"", 0)
        scope = RT_SCOPE_UNIVERSE if gateway else RT_SCOPE_LINK
        body = _RTMSG.pack(socket.AF_INET, dlen, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, scope, RTN_UNICAST, 0)
        if daddr:
            body += _attr(RTA_DST, daddr)
        if gateway:
            body += _attr(RTA_GATEWAY, socket.inet_aton(gateway))
        if dev:
            body += _attr(RTA_OIF, struct.pack("=I", self.index(dev)))
        self._request(RTM_NEWROUTE, F_CREATE | F_EXCL | F_ACK, body)

    def routes(self) -> list:
        """[(dst cidr, gateway or "", device index)] of the main table's IPv4 routes."""
        out = []
        for _mtype, payload in self._request(RTM_GETROUTE, F_DUMP, _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)):
            _fam, dlen, _slen, _tos, table, _proto, _scope, rtype, _flags = _RTMSG.unpack_from(payload)
            if table != RT_TABLE_MAIN or rtype != RTN_UNICAST:
                continue
            a = _attrs(payload, _RTMSG.size)
            dst = socket.inet_ntoa(a[RTA_DST]) if RTA_DST in a else "0.0.0.0"
            gw = socket.inet_ntoa(a[RTA_GATEWAY]) if RTA_GATEWAY in a else ""
            oif = struct.unpack("=I", a[RTA_OIF])[0] if RTA_OIF in a else 0
            out.append((f"{dst}/{dlen}", gw, oif))
        return out


def in_netns(path: str, fn):
    """fn() run in the network namespace at path, by a thread of its own:
    setns(CLONE_NEWNET) moves just the calling thread, and a socket keeps
    the namespace it was made in."""
    result = {}

    def run():
        try:
            from busybox_engine.core_pyx import ns
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                ns.setns(fd, CLONE_NEWNET, path)
            finally:
                os.close(fd)
            result["value"] = fn()
        except BaseException as e:   # handed to the caller's thread
            result["error"] = e
    t = threading.Thread(target=run)   # it ends in that namespace, and is gone
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]
    return result["value"]
