"""A tar reader for layers: headers parsed straight out of large chunks of
the (decompressed) stream and file data handed out as memoryviews of
those chunks, where tarfile's stream mode copies everything through 8 KiB
reads. ustar, pax (path, linkpath, size, uid, gid, mtime) and GNU long
names; sparse and multi-volume entries are refused."""
from busybox_engine.rpc.errors import InvalidArgument

BLOCK = 512
CHUNK = 1 << 20
ZERO = bytes(BLOCK)
MAX_META = 1 << 20  # a pax header or long name larger than this is hostile
MAX_ID = (1 << 32) - 1  # uid_t; all ones means "unchanged" to chown, not an owner

REG, LNK, SYM, CHR, BLK, DIR, FIFO = "0", "1", "2", "3", "4", "5", "6"
_TYPES = {b"0": REG, b"\0": REG, b"7": REG, b"1": LNK, b"2": SYM, b"3": CHR, b"4": BLK, b"5": DIR, b"6": FIFO}


class Entry:
    __slots__ = ("name", "mode", "uid", "gid", "size", "mtime", "type", "linkname")

    def isreg(self) -> bool:
        return self.type == REG

    def isdir(self) -> bool:
        return self.type == DIR

    def issym(self) -> bool:
        return self.type == SYM

    def islnk(self) -> bool:
        return self.type == LNK

    def isfifo(self) -> bool:
        return self.type == FIFO


def _broken(why: str) -> InvalidArgument:
    return InvalidArgument(f"layer: broken tar: {why}")


def _number(field: bytes) -> int:
    if field and field[0] & 0x80:  # GNU base-256, for values octal cannot hold
        n = int.from_bytes(field[1:], "big")
        return n - (1 << (8 * (len(field) - 1))) if field[0] == 0xFF else n
    field = field.strip(b" \0")
    try:
        return int(field, 8) if field else 0
    except ValueError:
        raise _broken(f"bad number {field[:12]!r}") from None


def _signed_sum(hdr: bytes) -> int:
    """The checksum as some old tars made it, over signed bytes."""
    import struct
    return sum(struct.unpack("148b8x356b", hdr)) + 8 * 32


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict:
    """`LEN key=value\\n` records."""
    out, pos = {}, 0
    while pos < len(data) and data[pos] != 0:
        space = data.find(b" ", pos)
        try:
            length = int(data[pos:space])
        except ValueError:
            raise _broken("bad pax record") from None
        record = data[space + 1:pos + length]
        if length <= 0 or pos + length > len(data) or not record.endswith(b"\n") or b"=" not in record:
            raise _broken("bad pax record")
        key, _, value = record[:-1].partition(b"=")
        out[key.decode("utf-8", "surrogateescape")] = value
        pos += length
    return out


class TarReader:
    """for entry in TarReader(stream.read): ...; reader.data(entry) gives a
    regular file's bytes (before the next entry); what is not read is skipped."""

    def __init__(self, read):
        self._read = read
        self.buf = b""
        self.pos = 0
        self.skip = 0  # data (with padding) of the last entry not read yet

    def _more(self) -> bool:
        chunk = self._read(CHUNK)
        if not chunk:
            return False
        self.buf = self.buf[self.pos:] + chunk if self.pos < len(self.buf) else chunk
        self.pos = 0
        return True

    def _take(self, n: int) -> bytes | None:
        """n bytes (a copy), or None at the end of the stream."""
        while len(self.buf) - self.pos < n:
            if not self._more():
                if self.pos == len(self.buf):
                    return None
                raise _broken("truncated")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def _skip(self, n: int) -> None:
        while n:
            if self.pos == len(self.buf) and not self._more():
                raise _broken("truncated")
            step = min(n, len(self.buf) - self.pos)
            self.pos += step
            n -= step

    def _meta(self, size: int) -> bytes:
        if size > MAX_META:
            raise _broken(f"{size}-byte extended header")
        data = self._take(size) if size else b""
        if data is None:
            raise _broken("truncated")
        self._skip(-size % BLOCK)
        return data

    def data(self, entry: Entry):
        """The entry's bytes as memoryviews of the stream's chunks."""
        left, self.skip = entry.size, 0
        while left:
            if self.pos == len(self.buf) and not self._more():
                raise _broken("truncated")
            step = min(left, len(self.buf) - self.pos)
            yield memoryview(self.buf)[self.pos:self.pos + step]
            self.pos += step
            left -= step
        self._skip(-entry.size % BLOCK)

    def __iter__(self):
        pax, longname, longlink = {}, None, None
        while True:
            if self.skip:
                self._skip(self.skip)
                self.skip = 0
            hdr = self._take(BLOCK)
            if hdr is None or hdr == ZERO:
                return  # the end marker (or a stream that just stops, as tar accepts)
            stored = _number(hdr[148:156])
            if stored != sum(hdr) - sum(hdr[148:156]) + 8 * 32 and stored != _signed_sum(hdr):
                raise _broken("header checksum mismatch")
            kind = hdr[156:157]
            size = _number(hdr[124:136])
            if size < 0:
                raise _broken("negative size")
            if kind in (b"x", b"g", b"L", b"K"):
                data = self._meta(size)
                if kind == b"x":
                    pax = _pax(data)
                elif kind == b"L":
                    longname = _text(data.rstrip(b"\0"))
                elif kind == b"K":
                    longlink = _text(data.rstrip(b"\0"))
                continue  # global pax headers carry nothing a layer needs
            type_ = _TYPES.get(kind)
            if type_ is None:
                raise InvalidArgument(f"layer: unsupported tar entry type {kind!r}")
            e = Entry()
            name = hdr[0:100].split(b"\0", 1)[0]
            if hdr[257:263] == b"ustar\0" and hdr[345] != 0:
                name = hdr[345:500].split(b"\0", 1)[0] + b"/" + name
            e.name = longname if longname is not None else _text(name)
            e.linkname = longlink if longlink is not None else _text(hdr[157:257].split(b"\0", 1)[0])
            e.mode = _number(hdr[100:108]) & 0o7777
            e.uid = _number(hdr[108:116])
            e.gid = _number(hdr[116:124])
            e.mtime = _number(hdr[136:148])
            e.size = size
            if pax:
                if "path" in pax:
                    e.name = _text(pax["path"])
                if "linkpath" in pax:
                    e.linkname = _text(pax["linkpath"])
                try:
                    for key in ("size", "uid", "gid"):
                        if key in pax:
                            setattr(e, key, int(pax[key]))
                    if "mtime" in pax:
                        e.mtime = int(float(pax["mtime"]))
                except ValueError:
                    raise _broken("bad pax number") from None
                if e.size < 0:
                    raise _broken("negative size")
            if not (0 <= e.uid < MAX_ID and 0 <= e.gid < MAX_ID):
                raise _broken(f"{e.name!r}: owner {e.uid}:{e.gid} is not an id")
            e.type = DIR if type_ == REG and kind == b"\0" and e.name.endswith("/") else type_  # old-style
            if e.type != REG:
                e.size = 0  # links, directories, devices: a header and nothing more
            pax, longname, longlink = {}, None, None
            self.skip = e.size + (-e.size % BLOCK)
            yield e
