"""The server side of RFC 6455 WebSocket framing, for the CRI streaming
server's channel protocols: binary messages in, unmasked binary frames
out; ping answered, close ends it."""
import asyncio
import base64
import hashlib
import struct

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 16 << 20


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


class WebSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.closed = False

    async def _frame(self) -> tuple:
        b0, b1 = await self.reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", await self.reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", await self.reader.readexactly(8))[0]
        if n > MAX_MESSAGE:
            raise ConnectionError("websocket frame too large")
        mask = await self.reader.readexactly(4) if b1 & 0x80 else b""
        data = await self.reader.readexactly(n) if n else b""
        if mask:
            data = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
        return bool(b0 & 0x80), b0 & 0x0F, data

    async def recv(self) -> bytes | None:
        """The next message; None once the peer closed or went."""
        parts = []
        try:
            while True:
                fin, op, data = await self._frame()
                if op == PING:
                    self._send(PONG, data)
                    continue
                if op == PONG:
                    continue
                if op == CLOSE:
                    self._send(CLOSE, data[:2])
                    return None
                parts.append(data)
                if fin:
                    return b"".join(parts)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    def _send(self, op: int, data: bytes) -> None:
        if self.writer.is_closing():
            return
        n = len(data)
        if n < 126:
            head = struct.pack(">BB", 0x80 | op, n)
        elif n < 1 << 16:
            head = struct.pack(">BBH", 0x80 | op, 126, n)
        else:
            head = struct.pack(">BBQ", 0x80 | op, 127, n)
        self.writer.write(head + data)

    async def send(self, data: bytes) -> None:
        self._send(BINARY, data)
        try:
            await self.writer.drain()
        except (ConnectionError, RuntimeError):
            pass

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._send(CLOSE, struct.pack(">H", 1000))
            try:
                await self.writer.drain()
            except (ConnectionError, RuntimeError):
                pass
