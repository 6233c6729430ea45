"""The layer tar reader against Python's tarfile, on what each tar format
writes, and on broken and hostile streams."""
import io
import tarfile

import pytest

from busybox_engine.image.tarstream import TarReader
from busybox_engine.rpc.errors import InvalidArgument

LONG = "d" * 120 + "/" + "f" * 150


def archive(fmt, entries) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, type_, data, extra in entries:
            info = tarfile.TarInfo(name)
            info.type = type_
            info.mode, info.uid, info.gid, info.mtime = 0o4755, 1000, 1001, 1700000000
            for k, v in extra.items():
                setattr(info, k, v)
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def ours(raw: bytes, chunk_reads: int = 0) -> list:
    src = io.BytesIO(raw)
    read = (lambda n: src.read(chunk_reads)) if chunk_reads else src.read
    reader = TarReader(read)
    out = []
    for e in reader:
        data = b"".join(bytes(c) for c in reader.data(e)) if e.isreg() else None
        name = e.name.rstrip("/") if e.isdir() else e.name  # tarfile drops the slash; we clean names later
        out.append((name, e.type, e.size, e.mode, e.uid, e.gid, e.mtime, e.linkname, data))
    return out


def theirs(raw: bytes) -> list:
    out = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        for m in tar:
            data = tar.extractfile(m).read() if m.isreg() else None
            type_ = "0" if m.isreg() else m.type.decode()
            out.append((m.name, type_, m.size if m.isreg() else 0, m.mode, m.uid, m.gid, int(m.mtime),
                        m.linkname, data))
    return out


ENTRIES = [
    ("etc", tarfile.DIRTYPE, None, {"mode": 0o755}),
    ("etc/passwd", tarfile.REGTYPE, b"root:x:0:0\n" * 100, {}),
    ("empty", tarfile.REGTYPE, b"", {}),
    ("big", tarfile.REGTYPE, bytes(range(256)) * 9000, {}),  # spans several chunks
    ("bin/sh", tarfile.SYMTYPE, None, {"linkname": "busybox"}),
    ("bin/ash", tarfile.LNKTYPE, None, {"linkname": "etc/passwd"}),
    ("pipe", tarfile.FIFOTYPE, None, {}),
    ("dev/null", tarfile.CHRTYPE, None, {"devmajor": 1, "devminor": 3}),
    ("usr/share/" + "x" * 90 + "/y" * 20, tarfile.REGTYPE, b"prefix", {}),  # ustar prefix field
]


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_same_entries_as_tarfile(fmt):
    raw = archive(fmt, ENTRIES)
    assert ours(raw) == theirs(raw)
    assert ours(raw, chunk_reads=700) == theirs(raw)  # headers and data split across reads


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_long_names_unicode_and_large_ids(fmt):
    entries = [(LONG, tarfile.REGTYPE, b"long", {}),
               ("l", tarfile.SYMTYPE, None, {"linkname": "t" * 200}),
               ("caf\u00e9/\u00fcber", tarfile.REGTYPE, b"u", {}),
               ("ids", tarfile.REGTYPE, b"i", {"uid": 10_000_000, "gid": 3_000_000})]  # base-256 / pax
    raw = archive(fmt, entries)
    got = ours(raw)
    assert got == theirs(raw)
    assert got[0][0] == LONG and got[1][7] == "t" * 200 and got[3][4:6] == (10_000_000, 3_000_000)


def test_broken_and_hostile_streams():
    raw = archive(tarfile.PAX_FORMAT, ENTRIES)
    with pytest.raises(InvalidArgument, match="truncated"):
        ours(raw[:2048 + 100])
    bad = bytearray(raw)
    bad[0] ^= 1  # the first header no longer matches its checksum
    with pytest.raises(InvalidArgument, match="checksum"):
        ours(bytes(bad))
    sparse = bytearray(archive(tarfile.USTAR_FORMAT, [("s", tarfile.REGTYPE, b"x", {})]))
    sparse[156:157] = b"S"
    sparse[148:156] = b"%06o\0 " % (sum(sparse[:148]) + sum(sparse[156:512]) + 8 * 32)
    with pytest.raises(InvalidArgument, match="unsupported tar entry type"):
        ours(bytes(sparse))
    # an extended header that claims 1 GiB: refused before anything is read
    huge = archive(tarfile.PAX_FORMAT, [("p", tarfile.REGTYPE, b"x", {"pax_headers": {"comment": "c"}})])
    hdr = bytearray(huge[:512])
    hdr[124:136] = b"%011o\0" % (1 << 30)
    hdr[148:156] = b"        "
    hdr[148:156] = b"%06o\0 " % sum(hdr)
    with pytest.raises(InvalidArgument, match="extended header"):
        ours(bytes(hdr) + huge[512:])
    # a stream with no end marker ends where its last entry does
    unmarked = raw.rstrip(b"\0")
    unmarked += bytes(-len(unmarked) % 512)
    assert len(unmarked) < len(raw) and ours(unmarked) == ours(raw)


@pytest.mark.parametrize("field,value", [("uid", str(1 << 40)), ("gid", "-5"), ("uid", str((1 << 32) - 1)),
                                         ("size", "x")])
def test_owners_and_numbers_out_of_range_are_refused(field, value):
    raw = archive(tarfile.PAX_FORMAT, [("f", tarfile.REGTYPE, b"x", {"pax_headers": {field: value}})])
    with pytest.raises(InvalidArgument):
        ours(raw)
