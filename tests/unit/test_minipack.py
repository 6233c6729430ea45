"""rpc.minipack: the same bytes as msgpack-python (use_bin_type) and the
same objects back (raw=False), fed in pieces of any size."""
import msgpack
import pytest

from busybox_engine.rpc import minipack

SAMPLES = [
    None, True, False, 0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1,
    -1, -32, -33, -128, -129, -32768, -32769, -2**31, -2**31 - 1, -2**63,
    0.5, -1.25e300, "", "a", "é" * 40, "x" * 300, "y" * 70000, b"", b"\x00" * 300, b"z" * 70000,
    [], list(range(20)), list(range(70000)), {}, {"a": 1}, {str(i): i for i in range(20)},
    [0, 7, "tasks.create", {"container_id": "c1", "stdin": None, "terminal": False, "spec": {"a": [1, {"b": b"x"}]}}],
]


@pytest.mark.parametrize("obj", SAMPLES, ids=range(len(SAMPLES)))
def test_packs_as_msgpack_and_reads_it_back(obj):
    want = msgpack.packb(obj, use_bin_type=True)
    assert minipack.packb(obj) == want
    u = minipack.Unpacker()
    u.feed(want)
    assert u.unpack() == msgpack.unpackb(want, raw=False)
    assert u.tell() == len(want)


def test_fed_in_pieces_and_several_objects():
    stream = b"".join(msgpack.packb(o, use_bin_type=True) for o in SAMPLES[:30])
    u = minipack.Unpacker()
    got = []
    for i in range(0, len(stream), 7):
        u.feed(stream[i:i + 7])
        got.extend(u)
    assert got == [msgpack.unpackb(msgpack.packb(o, use_bin_type=True), raw=False) for o in SAMPLES[:30]]
    assert u.tell() == len(stream)
    with pytest.raises(minipack.OutOfData):
        u.unpack()


def test_float32_and_refusals():
    u = minipack.Unpacker()
    u.feed(msgpack.packb(1.5, use_single_float=True))
    assert u.unpack() == 1.5
    with pytest.raises(TypeError):
        minipack.packb(object())
    with pytest.raises(OverflowError):
        minipack.packb(2**64)
    u = minipack.Unpacker()
    u.feed(msgpack.packb(msgpack.ExtType(1, b"x")))
    with pytest.raises(minipack.FormatError):
        u.unpack()
    u = minipack.Unpacker(max_buffer_size=10)
    with pytest.raises(minipack.FormatError):
        u.feed(b"x" * 11)
