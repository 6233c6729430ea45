"""An attached stream: a socket handed over by containerd (task.attach) on
which a process's output goes out and its stdin comes in.

Output without a terminal is framed as Docker's attach streams are
(stdcopy: 1 byte stream, 3 zero bytes, a 4-byte big-endian length, then
the bytes; 1 is stdout, 2 stderr), so dockerd can pass it on as is; with
a terminal it is the raw bytes. The client's end of writing (shutdown)
closes the process's stdin when it asked for that (close_stdin).
"""
import asyncio

from busybox_engine.daemon.background import spawn
from busybox_engine.shim.stdin import HIGH_WATER

HEADERS = {1: b"\x01\0\0\0", 2: b"\x02\0\0\0"}
# unsent output past which the process's output reading waits for us
STREAM_HIGH_WATER = 256 * 1024


class Stream(asyncio.Protocol):
    def __init__(self, process, stdin: bool, stdout: bool, stderr: bool, close_stdin: bool):
        self.process = process
        self.want = {1: stdout, 2: stderr}
        self.stdin = stdin
        self.close_stdin = close_stdin
        self.transport = None
        self.frame = not process.terminal

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.set_write_buffer_limits(high=STREAM_HIGH_WATER)
        self.process.attach(self)

    def output(self, kind: int, data: bytes) -> None:
        if not self.want[kind] or self.transport.is_closing():
            return
        if self.frame:  # the header and the bytes as they are: no copy to join them
            self.transport.writelines((HEADERS[kind] + len(data).to_bytes(4, "big"), data))
        else:
            self.transport.write(data)

    def pause_writing(self) -> None:
        self.process.hold(self)

    def resume_writing(self) -> None:
        self.process.release(self)

    def data_received(self, data: bytes) -> None:
        stdin = self.process.stdin
        if stdin is None or not self.stdin:
            return  # read (so that a close is noticed) and dropped
        stdin.write(data)
        if stdin.pending > HIGH_WATER:
            # the process is not reading: neither do we, until it has
            self.transport.pause_reading()
            spawn(self._resume_when_drained(stdin))

    async def _resume_when_drained(self, stdin) -> None:
        await stdin.below(HIGH_WATER // 2)
        if not self.transport.is_closing():
            self.transport.resume_reading()

    def eof_received(self) -> bool:
        if self.close_stdin and self.process.stdin is not None and not self.process.terminal:
            self.process.stdin.close()
        return True  # keep sending output: only the client's writing ended

    def connection_lost(self, exc) -> None:
        self.process.detach(self)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
