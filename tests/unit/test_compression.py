"""The layer decompressor and read-ahead: what gzip(1) accepts, in large
steps, and broken streams refused."""
import gzip
import io
import os

import pytest

from busybox_engine.image.compression import OUT_STEP, Gunzip, HashingReader, ReadAhead
from busybox_engine.rpc.errors import FailedPrecondition, InvalidArgument


def inflate(blob: bytes) -> tuple:
    g, parts = Gunzip(io.BytesIO(blob)), []
    while True:
        data = g.read(1 << 20)
        if not data:
            return b"".join(parts), max((len(p) for p in parts), default=0)
        parts.append(data)


def test_members_padding_and_steps():
    a, b = os.urandom(3 << 20), b"z" * (20 << 20)  # b expands 1000-fold: handed out in steps
    out, biggest = inflate(gzip.compress(a) + gzip.compress(b) + b"\0" * 1000)
    assert out == a + b and biggest <= OUT_STEP
    assert inflate(b"") == (b"", 0)


def test_broken_streams():
    blob = gzip.compress(os.urandom(1 << 20))
    with pytest.raises(InvalidArgument, match="ends early"):
        inflate(blob[:len(blob) // 2])
    with pytest.raises(InvalidArgument, match="broken gzip"):
        inflate(blob[:100] + bytes(x ^ 0x55 for x in blob[100:200]) + blob[200:])
    with pytest.raises(InvalidArgument, match="broken gzip"):
        inflate(blob + b"trailing garbage")


def test_read_ahead_hands_on_data_and_errors():
    data = os.urandom(5 << 20)
    ahead = ReadAhead(HashingReader(Gunzip(io.BytesIO(gzip.compress(data)))))
    got = b"".join(iter(lambda: ahead.read(), b""))
    ahead.close()
    assert got == data
    bomb = ReadAhead(HashingReader(Gunzip(io.BytesIO(gzip.compress(b"\0" * (8 << 20)))), limit=1 << 20))
    with pytest.raises(FailedPrecondition, match="decompression bomb"):
        while bomb.read():
            pass
    bomb.close()
    # a reader that stops early does not leave the thread behind
    early = ReadAhead(io.BytesIO(os.urandom(64 << 20)), chunk=1 << 20, depth=2)
    early.read()
    early.close()
    assert not early.thread.is_alive()
