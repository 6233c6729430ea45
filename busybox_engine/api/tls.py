"""TLS for the tcp listeners, over a plain transport through memory BIOs.

asyncio's own TLS transport closes a connection when the client ends its
side (close_notify): the docker CLI does that after sending stdin, and
the container's output must still come back, as Go's dockerd sends it.
Here the end of the client's data is only an end of reading."""
import asyncio
import ssl


class TLSServerProtocol(asyncio.Protocol):
    def __init__(self, context: ssl.SSLContext, inner_factory):
        self.context = context
        self.inner = inner_factory()
        self.transport = None
        self.ready = False
        self.read_eof = False

    # --- the network side ---------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = self.context.wrap_bio(self.incoming, self.outgoing, server_side=True)

    def data_received(self, data: bytes) -> None:
        self.incoming.write(data)
        if not self.ready:
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                self._flush()
                return
            except (ssl.SSLError, OSError):
                self._flush()   # the alert tells the client why
                self.transport.abort()
                return
            self.ready = True
            self._flush()
            self.inner.connection_made(_Plain(self))
        chunks, eof = [], False
        while True:
            try:
                chunk = self.tls.read(1 << 16)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                eof = True
                break
            except (ssl.SSLError, OSError):
                self.transport.abort()
                return
            if not chunk:
                eof = True
                break
            chunks.append(chunk)
        self._flush()
        for chunk in chunks:
            self.inner.data_received(chunk)
        if eof:
            self._end_of_reading()

    def eof_received(self):
        if self.ready:
            self._end_of_reading()
        return True

    def _end_of_reading(self) -> None:
        if self.read_eof:
            return
        self.read_eof = True
        if not self.inner.eof_received():
            self.transport.close()

    def connection_lost(self, exc) -> None:
        if self.ready:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.ready:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.ready:
            self.inner.resume_writing()

    # --- for the inner protocol -----------------------------------------------

    def _flush(self) -> None:
        data = self.outgoing.read()
        if data and not self.transport.is_closing():
            self.transport.write(data)

    def write(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        try:
            self.tls.write(data)
        except (ssl.SSLError, OSError):
            self.transport.abort()
            return
        self._flush()

    def write_eof(self) -> None:
        try:
            self.tls.unwrap()        # our close_notify; theirs may never come
        except (ssl.SSLWantReadError, ssl.SSLError, OSError):
            pass
        self._flush()
        if self.transport.can_write_eof():
            self.transport.write_eof()


class _Plain(asyncio.Transport):
    """What the HTTP protocol writes to: plain bytes in, TLS records out."""

    def __init__(self, outer: TLSServerProtocol):
        super().__init__()
        self.outer = outer

    def write(self, data) -> None:
        self.outer.write(bytes(data))

    def writelines(self, items) -> None:
        self.outer.write(b"".join(items))

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.outer.write_eof()

    def close(self) -> None:
        self.outer.transport.close()

    def abort(self) -> None:
        self.outer.transport.abort()

    def is_closing(self) -> bool:
        return self.outer.transport.is_closing()

    def pause_reading(self) -> None:
        self.outer.transport.pause_reading()

    def resume_reading(self) -> None:
        self.outer.transport.resume_reading()

    def is_reading(self) -> bool:
        return self.outer.transport.is_reading()

    def get_write_buffer_size(self) -> int:
        return self.outer.transport.get_write_buffer_size()

    def set_write_buffer_limits(self, high=None, low=None) -> None:
        self.outer.transport.set_write_buffer_limits(high, low)

    def get_extra_info(self, name, default=None):
        if name == "ssl_object":
            return self.outer.tls
        return self.outer.transport.get_extra_info(name, default)
