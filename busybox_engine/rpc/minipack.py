"""msgpack for the blocking client, in plain Python.

`import msgpack` costs every ctr command ~7 ms (msgpack.ext imports
datetime and collections at import); a CLI sends a request or two and
reads as many replies, which this packs and unpacks as msgpack-python
does with use_bin_type=True and raw=False: str as str, bytes as bin, no
ext types. The daemons keep the C msgpack.
"""
import struct

_pack = struct.pack
_unpack_from = struct.unpack_from


class OutOfData(Exception):
    """The buffer ends inside an object: feed more."""


class FormatError(ValueError):
    """Not msgpack this module reads."""


def packb(obj) -> bytes:
    out = []
    _pack_into(obj, out.append, 0)
    return b"".join(out)


def _pack_into(obj, put, depth: int) -> None:
    if depth > 512:
        raise ValueError("msgpack: nested too deeply")
    if obj is None:
        put(b"\xc0")
    elif obj is True:
        put(b"\xc3")
    elif obj is False:
        put(b"\xc2")
    elif isinstance(obj, int):
        if 0 <= obj < 0x80:
            put(bytes((obj,)))
        elif -32 <= obj < 0:
            put(bytes((obj & 0xff,)))
        elif 0 <= obj <= 0xff:
            put(b"\xcc" + bytes((obj,)))
        elif 0 <= obj <= 0xffff:
            put(_pack(">BH", 0xcd, obj))
        elif 0 <= obj <= 0xffffffff:
            put(_pack(">BI", 0xce, obj))
        elif 0 <= obj <= 0xffffffffffffffff:
            put(_pack(">BQ", 0xcf, obj))
        elif -0x80 <= obj < 0:
            put(_pack(">Bb", 0xd0, obj))
        elif -0x8000 <= obj < 0:
            put(_pack(">Bh", 0xd1, obj))
        elif -0x80000000 <= obj < 0:
            put(_pack(">Bi", 0xd2, obj))
        elif -0x8000000000000000 <= obj < 0:
            put(_pack(">Bq", 0xd3, obj))
        else:
            raise OverflowError("Integer value out of range")
    elif isinstance(obj, float):
        put(_pack(">Bd", 0xcb, obj))
    elif isinstance(obj, str):
        data = obj.encode("utf-8", "surrogatepass")
        _head(put, len(data), 0xa0, 32, 0xd9, 0xda, 0xdb)
        put(data)
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
        _head(put, len(data), 0, 0, 0xc4, 0xc5, 0xc6)
        put(data)
    elif isinstance(obj, (list, tuple)):
        _head(put, len(obj), 0x90, 16, 0, 0xdc, 0xdd)
        for item in obj:
            _pack_into(item, put, depth + 1)
    elif isinstance(obj, dict):
        _head(put, len(obj), 0x80, 16, 0, 0xde, 0xdf)
        for k, v in obj.items():
            _pack_into(k, put, depth + 1)
            _pack_into(v, put, depth + 1)
    else:
        raise TypeError(f"can not serialize {type(obj).__name__!r} object")


def _head(put, n: int, fix: int, fix_limit: int, b8: int, b16: int, b32: int) -> None:
    """A str, bin, array or map header for n: the fix form below
    fix_limit, else the 8- (where the type has one), 16- or 32-bit length."""
    if n < fix_limit:
        put(bytes((fix | n,)))
    elif b8 and n <= 0xff:
        put(bytes((b8, n)))
    elif n <= 0xffff:
        put(_pack(">BH", b16, n))
    else:
        put(_pack(">BI", b32, n))


# fixed-size formats: first byte -> (struct format, size)
_FIXED = {0xcc: (">B", 1), 0xcd: (">H", 2), 0xce: (">I", 4), 0xcf: (">Q", 8),
          0xd0: (">b", 1), 0xd1: (">h", 2), 0xd2: (">i", 4), 0xd3: (">q", 8),
          0xca: (">f", 4), 0xcb: (">d", 8)}
# length-prefixed: first byte -> (length format, length size, kind)
_SIZED = {0xd9: (">B", 1, "str"), 0xda: (">H", 2, "str"), 0xdb: (">I", 4, "str"),
          0xc4: (">B", 1, "bin"), 0xc5: (">H", 2, "bin"), 0xc6: (">I", 4, "bin"),
          0xdc: (">H", 2, "array"), 0xdd: (">I", 4, "array"),
          0xde: (">H", 2, "map"), 0xdf: (">I", 4, "map")}


class Unpacker:
    """Objects from fed bytes, one at a time (unpack() raises OutOfData
    until a whole one is there); tell() is the offset past the last."""

    def __init__(self, max_buffer_size: int = 0):
        self.buf = b""
        self.pos = 0
        self.consumed = 0
        self.max_buffer_size = max_buffer_size

    def feed(self, data: bytes) -> None:
        if self.pos:
            self.buf = self.buf[self.pos:]
            self.pos = 0
        self.buf += bytes(data)
        if self.max_buffer_size and len(self.buf) > self.max_buffer_size:
            raise FormatError("msgpack: buffer full")

    def tell(self) -> int:
        return self.consumed

    def unpack(self):
        obj, end = self._read(self.pos, 0)
        self.consumed += end - self.pos
        self.pos = end
        return obj

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return self.unpack()
        except OutOfData:
            raise StopIteration from None

    def _take(self, at: int, n: int) -> int:
        if at + n > len(self.buf):
            raise OutOfData
        return at + n

    def _read(self, at: int, depth: int):
        if depth > 512:
            raise FormatError("msgpack: nested too deeply")
        buf = self.buf
        if at >= len(buf):
            raise OutOfData
        b = buf[at]
        at += 1
        if b < 0x80:
            return b, at
        if b >= 0xe0:
            return b - 0x100, at
        if 0xa0 <= b <= 0xbf:
            return self._str(at, b & 0x1f)
        if 0x90 <= b <= 0x9f:
            return self._array(at, b & 0x0f, depth)
        if 0x80 <= b <= 0x8f:
            return self._map(at, b & 0x0f, depth)
        if b == 0xc0:
            return None, at
        if b == 0xc2:
            return False, at
        if b == 0xc3:
            return True, at
        if b in _FIXED:
            fmt, size = _FIXED[b]
            end = self._take(at, size)
            return _unpack_from(fmt, buf, at)[0], end
        if b in _SIZED:
            fmt, size, kind = _SIZED[b]
            end = self._take(at, size)
            n = _unpack_from(fmt, buf, at)[0]
            if kind == "str":
                return self._str(end, n)
            if kind == "bin":
                stop = self._take(end, n)
                return buf[end:stop], stop
            if kind == "array":
                return self._array(end, n, depth)
            return self._map(end, n, depth)
        raise FormatError(f"msgpack: unsupported type byte {b:#x}")

    def _str(self, at: int, n: int):
        end = self._take(at, n)
        return self.buf[at:end].decode("utf-8", "surrogatepass"), end

    def _array(self, at: int, n: int, depth: int):
        out = []
        for _ in range(n):
            item, at = self._read(at, depth + 1)
            out.append(item)
        return out, at

    def _map(self, at: int, n: int, depth: int):
        out = {}
        for _ in range(n):
            k, at = self._read(at, depth + 1)
            v, at = self._read(at, depth + 1)
            try:
                out[k] = v
            except TypeError:
                raise FormatError("msgpack: unhashable map key") from None
        return out, at
