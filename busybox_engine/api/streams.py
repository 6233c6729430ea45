"""Byte streams of the Engine API: a hijacked client connection spliced
to a task's stream from its shim (attach, exec), and the framing of
Docker's multiplexed streams (logs without a terminal).

The splice moves bytes between two transports with flow control both ways:
a client that reads slowly pauses reading from the shim (the container
then blocks on its output, as on a pipe), and the shim's stdin being full
pauses reading from the client. Nothing is buffered beyond the
transports' own high-water marks."""
import asyncio
import struct

STDOUT, STDERR = 1, 2
DEFAULT_DETACH_KEYS = b"\x10\x11"   # ctrl-p ctrl-q


def frame(stream: int, data: bytes) -> bytes:
    """Docker's stdcopy frame: stream, three zero bytes, big-endian size."""
    return struct.pack(">BxxxL", stream, len(data)) + data


def split_frames(buf: bytes) -> tuple:
    """([(stream, data), ...], rest): the whole stdcopy frames at the head
    of buf, and what is left of a frame still coming."""
    frames, pos = [], 0
    while len(buf) - pos >= 8:
        kind, size = struct.unpack_from(">BxxxL", buf, pos)
        if len(buf) - pos < 8 + size:
            break
        frames.append((kind, buf[pos + 8:pos + 8 + size]))
        pos += 8 + size
    return frames, buf[pos:]


def parse_detach_keys(text: str) -> bytes:
    """--detach-keys "ctrl-p,ctrl-q" (or "a,ctrl-@") as bytes."""
    out = bytearray()
    for part in text.split(","):
        part = part.strip()
        if len(part) == 1:
            out.append(ord(part))
        elif part.startswith("ctrl-") and len(part) == 6:
            c = part[5]
            if "a" <= c <= "z":
                out.append(ord(c) - ord("a") + 1)
            elif c in "@[\\]^_":
                out.append("@abcdefghijklmnopqrstuvwxyz[\\]^_".index(c))
            else:
                raise ValueError(f"Invalid escape keys ({text}) provided")
        else:
            raise ValueError(f"Invalid escape keys ({text}) provided")
    if not out:
        raise ValueError(f"Invalid escape keys ({text}) provided")
    return bytes(out)


class _ShimSide(asyncio.Protocol):
    def __init__(self, splice: "Splice"):
        self.splice = splice

    def connection_made(self, transport):
        self.splice.shim = transport

    def data_received(self, data):
        s = self.splice
        if not s.client.closed:
            try:
                s.client.write(data)
            except ConnectionError:
                s.finish()

    def eof_received(self):
        self.splice.finish()
        return False

    def connection_lost(self, exc):
        self.splice.finish()

    def pause_writing(self):
        self.splice.client.conn.pause_reading()

    def resume_writing(self):
        self.splice.client.conn.resume_reading()


class Splice:
    """client (api.http.RawStream) <-> shim socket, until the output ends
    or the client goes away (or detaches)."""

    def __init__(self, client, stdin: bool, detach_keys: bytes | None = None):
        self.client = client
        self.stdin = stdin
        self.detach_keys = detach_keys
        self.matched = 0
        self.held = b""
        self.shim = None
        self.done = asyncio.get_running_loop().create_future()
        self.detached = False

    async def run(self, sock) -> bool:
        """Splice until done; True if the client detached."""
        loop = asyncio.get_running_loop()
        await loop.create_unix_connection(lambda: _ShimSide(self), sock=sock)
        self.client.set_sink(self._from_client, self._client_eof,
                             lambda: self.shim and self.shim.pause_reading(),
                             lambda: self.shim and self.shim.resume_reading())
        try:
            await self.done
        finally:
            if self.shim is not None:
                self.shim.close()
        return self.detached

    def _from_client(self, data: bytes) -> None:
        if not self.stdin or self.shim is None or self.shim.is_closing():
            return
        if self.detach_keys:
            data = self._scan(data)
            if data is None:
                return
        if data:
            self.shim.write(data)
            if self.shim.get_write_buffer_size() > 1 << 20:
                self.client.conn.pause_reading()
                # resumed by _ShimSide.resume_writing

    def _scan(self, data: bytes):
        """Hold back a partial detach sequence; None once it is complete."""
        keys = self.detach_keys
        out = bytearray()
        for b in data:
            if b == keys[self.matched]:
                self.matched += 1
                self.held += bytes([b])
                if self.matched == len(keys):
                    self.detached = True
                    self.finish()
                    return None
            else:
                out += self.held
                self.held = b""
                self.matched = 0
                if b == keys[0]:
                    self.matched = 1
                    self.held = bytes([b])
                else:
                    out.append(b)
        return bytes(out)

    def _client_eof(self) -> None:
        if self.client.closed:
            self.finish()
        elif self.stdin and self.shim is not None and not self.shim.is_closing():
            if self.shim.can_write_eof():
                self.shim.write_eof()  # the container's stdin ends (stdin_once)

    def finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)
