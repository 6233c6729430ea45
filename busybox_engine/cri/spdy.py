"""SPDY/3.1 framing, the server side of what kubelet and crictl speak for
exec, attach and port-forward (Kubernetes' httpstream over SPDY).

The peer opens streams (SYN_STREAM with a `streamtype` header, and `port`
and `requestid` for port-forward); we answer each (SYN_REPLY), then data
frames flow both ways and FIN ends a direction. Header blocks are zlib
streams primed with SPDY/3's dictionary, one stream per direction for the
whole connection. Flow control is not enforced by the Go peers; we grant
window back as data arrives so a peer that does enforce it never stalls."""
import asyncio
import struct
import zlib

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
MAX_FRAME = 1 << 24
DATA_CHUNK = 32 * 1024

# The SPDY/3 header dictionary (draft-mbelshe-httpbis-spdy-00, 2.6.10.1):
# these names, each after its 4-byte length, then the tail as it is.
_WORDS = ("options head post put delete trace accept accept-charset accept-encoding accept-language "
          "accept-ranges age allow authorization cache-control connection content-base content-encoding "
          "content-language content-length content-location content-md5 content-range content-type date etag "
          "expect expires from host if-match if-modified-since if-none-match if-range if-unmodified-since "
          "last-modified location max-forwards pragma proxy-authenticate proxy-authorization range referer "
          "retry-after server te trailer transfer-encoding upgrade user-agent vary via warning www-authenticate "
          "method get status |200 OK| version HTTP/1.1 url public set-cookie keep-alive origin")
_TAIL = ("100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
         "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
         "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
         "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
         "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
         "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
         "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")


def _dictionary() -> bytes:
    words = _WORDS.replace("|200 OK|", "200\x00OK").split()
    out = b"".join(struct.pack(">I", len(w)) + w.replace("\x00", " ").encode() for w in words)
    return out + _TAIL.encode()


DICTIONARY = _dictionary()


class ProtocolError(Exception):
    pass


class Stream:
    """One SPDY stream: what the peer sent (a queue of chunks, b"" at its
    FIN) and our side's writes."""

    def __init__(self, conn: "Connection", sid: int, headers: dict):
        self.conn = conn
        self.id = sid
        self.headers = headers
        self.incoming = asyncio.Queue()
        self.closed_by_peer = False
        self.closed = False

    async def read(self) -> bytes:
        """The next chunk the peer sent; b"" at its end."""
        if self.closed_by_peer and self.incoming.empty():
            return b""
        return await self.incoming.get()

    async def write(self, data: bytes) -> None:
        for i in range(0, len(data), DATA_CHUNK):
            self.conn.send_data(self.id, data[i:i + DATA_CHUNK])
        await self.conn.drain()

    def close(self) -> None:
        """Our side is done (FIN)."""
        if not self.closed:
            self.closed = True
            self.conn.send_data(self.id, b"", FLAG_FIN)

    def _peer_data(self, data: bytes, fin: bool) -> None:
        if data:
            self.incoming.put_nowait(data)
        if fin and not self.closed_by_peer:
            self.closed_by_peer = True
            self.incoming.put_nowait(b"")


class Connection:
    """A SPDY session on an upgraded HTTP connection (reader, writer)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, on_stream):
        self.reader = reader
        self.writer = writer
        self.on_stream = on_stream    # callable(Stream): a new stream from the peer
        self.streams = {}
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)
        self.deflate = zlib.compressobj(zdict=DICTIONARY)
        self.closed = asyncio.get_running_loop().create_future()

    # --- writing -----------------------------------------------------------------------

    def _control(self, kind: int, flags: int, body: bytes) -> None:
        if self.writer.is_closing():
            return
        self.writer.write(struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(body)) + body)

    def send_data(self, sid: int, data: bytes, flags: int = 0) -> None:
        if self.writer.is_closing():
            return
        self.writer.write(struct.pack(">II", sid & 0x7FFFFFFF, (flags << 24) | len(data)) + data)

    def _header_block(self, headers: dict) -> bytes:
        raw = struct.pack(">I", len(headers))
        for k, v in headers.items():
            kb, vb = k.lower().encode(), v.encode()
            raw += struct.pack(">I", len(kb)) + kb + struct.pack(">I", len(vb)) + vb
        return self.deflate.compress(raw) + self.deflate.flush(zlib.Z_SYNC_FLUSH)

    def reply(self, stream: Stream, headers: dict | None = None) -> None:
        self._control(SYN_REPLY, 0, struct.pack(">I", stream.id) + self._header_block(headers or {}))

    async def drain(self) -> None:
        try:
            await self.writer.drain()
        except (ConnectionError, RuntimeError):
            pass

    def close(self) -> None:
        if not self.writer.is_closing():
            self._control(GOAWAY, 0, struct.pack(">II", 0, 0))
            self.writer.close()
        for s in self.streams.values():
            s._peer_data(b"", True)
        if not self.closed.done():
            self.closed.set_result(None)

    # --- reading -----------------------------------------------------------------------

    def _headers(self, block: bytes) -> dict:
        try:
            raw = self.inflate.decompress(block)
        except zlib.error as e:
            raise ProtocolError(f"header block: {e}") from None
        (n,), pos, out = struct.unpack_from(">I", raw), 4, {}
        for _ in range(n):
            (kl,) = struct.unpack_from(">I", raw, pos)
            k = raw[pos + 4:pos + 4 + kl].decode(errors="replace").lower()
            pos += 4 + kl
            (vl,) = struct.unpack_from(">I", raw, pos)
            out[k] = raw[pos + 4:pos + 4 + vl].decode(errors="replace").split("\x00")[0]
            pos += 4 + vl
        return out

    async def serve(self) -> None:
        """Read frames until the peer goes; streams are handed to on_stream."""
        try:
            while True:
                head = await self.reader.readexactly(8)
                first, second = struct.unpack(">II", head)
                flags, length = second >> 24, second & 0xFFFFFF
                body = await self.reader.readexactly(length) if length else b""
                if first & 0x80000000:
                    self._on_control((first >> 16) & 0x7FFF, first & 0xFFFF, flags, body)
                else:
                    s = self.streams.get(first & 0x7FFFFFFF)
                    if s is not None:
                        s._peer_data(body, bool(flags & FLAG_FIN))
                        if body:   # give the window back at once
                            self._control(WINDOW_UPDATE, 0, struct.pack(">II", s.id, len(body)))
                            self._control(WINDOW_UPDATE, 0, struct.pack(">II", 0, len(body)))
        except (asyncio.IncompleteReadError, ConnectionError, ProtocolError, struct.error):
            pass
        finally:
            self.close()

    def _on_control(self, version: int, kind: int, flags: int, body: bytes) -> None:
        if version != VERSION:
            raise ProtocolError(f"SPDY version {version}")
        if kind == SYN_STREAM:
            sid = struct.unpack_from(">I", body)[0] & 0x7FFFFFFF
            stream = Stream(self, sid, self._headers(body[10:]))
            self.streams[sid] = stream
            if flags & FLAG_FIN:
                stream._peer_data(b"", True)
            self.reply(stream)
            self.on_stream(stream)
        elif kind == PING:
            self._control(PING, 0, body)
        elif kind == RST_STREAM:
            s = self.streams.get(struct.unpack_from(">I", body)[0] & 0x7FFFFFFF)
            if s is not None:
                s.closed = True
                s._peer_data(b"", True)
        elif kind == HEADERS:
            self._headers(body[4:])   # keeps the zlib stream in step
        elif kind == GOAWAY:
            raise ProtocolError("peer went away")
        # SETTINGS, WINDOW_UPDATE, SYN_REPLY: nothing to do on our side
