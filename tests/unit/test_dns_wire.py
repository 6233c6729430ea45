"""The embedded DNS server's wire format: a query read, an answer with A
records written, malformed messages refused."""
import struct

import pytest

from busybox_engine.network import dns


def query(name: str, qtype: int = dns.TYPE_A, qid: int = 0x1234) -> bytes:
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack("!HH", qtype, dns.CLASS_IN)


def test_question_and_answer():
    q = query("web.example")
    qid, flags, name, qtype, qclass, end = dns.parse_question(q)
    assert (qid, name, qtype, qclass, end) == (0x1234, "web.example", dns.TYPE_A, dns.CLASS_IN, len(q))
    a = dns.response(q, end, 0, ["10.0.0.5", "10.0.0.6"])
    rid, rflags, qd, an, ns, ar = struct.unpack("!HHHHHH", a[:12])
    assert (rid, qd, an, ns, ar) == (0x1234, 1, 2, 0, 0)
    assert rflags & 0x8000 and rflags & 0x0100 and rflags & 0x000F == 0   # answer, RD kept, NOERROR
    assert a[12:end] == q[12:]
    first = a[end:end + 16]
    assert struct.unpack("!HHHIH", first[:12]) == (0xC00C, dns.TYPE_A, dns.CLASS_IN, dns.TTL, 4)
    assert first[12:] == bytes([10, 0, 0, 5])


@pytest.mark.parametrize("bad", [b"", b"\x00" * 11, struct.pack("!HHHHHH", 1, 0, 2, 0, 0, 0),
                                 query("x")[:-3], struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\xc0\x0c"])
def test_malformed_queries_are_refused(bad):
    with pytest.raises(dns.FormatError):
        dns.parse_question(bad)
    assert struct.unpack("!H", dns.error(bad, dns.FORMERR)[2:4])[0] & 0x000F == dns.FORMERR


def test_resolv_conf_points_at_the_embedded_server():
    host = "search corp.example\nnameserver 192.0.2.53\noptions edns0\n"
    assert dns.resolv_conf(host, [], []) == "search corp.example\nnameserver 127.0.0.11\noptions ndots:0\n"
    assert dns.resolv_conf(host, ["a.test"], ["timeout:1"]) == \
        "search a.test\nnameserver 127.0.0.11\noptions ndots:0 timeout:1\n"
