"""A process's stdin, written without ever blocking the shim: bytes the
pipe (or pty) does not take at once wait in a queue that is written as it
drains, partial writes included. Writers learn when the queue is short
again (below()), so a client sending faster than the container reads is
slowed, not buffered without end; a container that never reads its stdin
stops nobody but its own writers."""
import asyncio
import errno
import os

# queued bytes above which writers are held back
HIGH_WATER = 1 << 20


class StdinWriter:
    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, owned: bool = True):
        self.loop = loop
        self.fd = fd
        self.owned = owned          # a pty master is also the output: not ours to close
        self.buf = bytearray()
        self.closed = False
        self.closing = False        # close once the queue is written
        self.writing = False        # a writer callback is registered
        self.waiters = []           # futures resolved when the queue is short
        os.set_blocking(fd, False)

    @property
    def pending(self) -> int:
        return len(self.buf)

    def write(self, data: bytes) -> None:
        """Queue data; it goes out as the process reads. Dropped if stdin is
        closed (the process has closed its end, or we have)."""
        if self.closed or self.closing:
            return
        self.buf += data
        if not self.writing:
            self._flush()

    async def below(self, limit: int = HIGH_WATER) -> None:
        """Until no more than limit bytes wait (or stdin is closed)."""
        while len(self.buf) > limit and not self.closed:
            fut = self.loop.create_future()
            self.waiters.append(fut)
            await fut

    def close(self, now: bool = False) -> None:
        """Close stdin once what is queued is written (now: at once)."""
        if self.closed:
            return
        self.closing = True
        if now or not self.buf:
            self._close()

    def _flush(self) -> None:
        while self.buf:
            try:
                n = os.write(self.fd, self.buf)
            except BlockingIOError:
                break
            except InterruptedError:
                continue
            except OSError as e:
                if e.errno in (errno.EPIPE, errno.EIO, errno.EBADF):
                    self._close()  # nobody reads it any more
                    return
                raise
            del self.buf[:n]
        want = bool(self.buf)
        if want and not self.writing:
            self.loop.add_writer(self.fd, self._flush)
        elif not want and self.writing:
            self.loop.remove_writer(self.fd)
        self.writing = want
        if len(self.buf) <= HIGH_WATER:
            self._wake()
        if not self.buf and self.closing:
            self._close()

    def _wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.buf.clear()
        if self.writing:
            self.loop.remove_writer(self.fd)
            self.writing = False
        if self.owned:
            os.close(self.fd)
        self._wake()
