"""Between a task's process and this terminal: its output to ours, our stdin
to it, over an attach stream (a socket to its shim that containerd hands
over: see tasks.attach), then its exit status.

Neither side is ever read faster than the other can take: output is read
only while we are not busy sending stdin it does not take, and stdin only
while the last of it is out.
"""
import os
import select
import sys

from busybox_engine.cli.ctr.common import Ctx
from busybox_engine.rpc.client import open_stream
from busybox_engine.rpc.errors import Unavailable

READ_SIZE = 1 << 18


def attach(ctx: Ctx, cid: str, exec_id: str = "", stdin: bool = True, tty: bool = False) -> tuple:
    """(socket, terminal): a stream of the process's output (and input)."""
    result, sock = open_stream(ctx.address, "tasks.attach",
                               {"container_id": cid, "namespace": ctx.namespace, "exec_id": exec_id,
                                "stdin": stdin, "close_stdin": not tty})
    return sock, bool(result.get("terminal"))


def write_all(fd: int, data) -> None:
    """All of data to fd, partial writes and a non-blocking fd included."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            select.select([], [fd], [])


class Demux:
    """Docker's attach framing (stdcopy) back into stdout and stderr."""

    def __init__(self):
        self.buf = b""

    def feed(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        view = memoryview(buf)
        pos = 0
        while len(buf) - pos >= 8:
            size = int.from_bytes(buf[pos + 4:pos + 8], "big")
            if len(buf) - pos < 8 + size:
                break
            write_all(2 if buf[pos] == 2 else 1, view[pos + 8:pos + 8 + size])
            pos += 8 + size
        self.buf = bytes(view[pos:])  # what is left of a frame: at most one


def pump(sock, terminal: bool, stdin: bool, on_resize=None) -> None:
    """Relay until the stream ends (the process's output is all out)."""
    sock.setblocking(False)
    demux = None if terminal else Demux()
    pending = b""          # stdin read but not yet taken by the stream
    stdin_open = stdin
    resized = []
    if on_resize is not None:
        import signal
        signal.signal(signal.SIGWINCH, lambda *_: resized.append(1))
    while True:
        if resized:
            resized.clear()
            on_resize()
        readers = [sock] + ([0] if stdin_open and not pending else [])
        writers = [sock] if pending else []
        try:
            readable, writable, _ = select.select(readers, writers, [])
        except InterruptedError:
            continue
        if sock in writable:
            try:
                pending = pending[sock.send(pending):]
            except BlockingIOError:
                pass
            except OSError:
                pending, stdin_open = b"", False  # the stream is gone: so is stdin
            if not pending and not stdin_open:
                _shut_write(sock)
        if 0 in readable:
            data = os.read(0, READ_SIZE)
            if data:
                pending = data
            else:
                stdin_open = False
                if not pending:
                    _shut_write(sock)
        if sock in readable:
            try:
                data = sock.recv(READ_SIZE)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                return
            if demux is None:
                write_all(1, data)
            else:
                demux.feed(data)


def _shut_write(sock) -> None:
    import _socket
    try:
        sock.shutdown(_socket.SHUT_WR)
    except OSError:
        pass


def wait_exit(ctx: Ctx, msgid: int | None, cid: str, exec_id: str = "") -> int:
    """The process's exit status: the answer to the wait sent as msgid, or,
    if containerd went away meanwhile, from a new connection (it may be
    restarting)."""
    import time
    params = {"container_id": cid, "namespace": ctx.namespace, "exec_id": exec_id}
    deadline = time.monotonic() + 15
    while True:
        try:
            if msgid is None:
                msgid = ctx.client.send("tasks.wait", params)
            return ctx.client.wait(msgid)["exit_status"]
        except Unavailable:
            if time.monotonic() > deadline:
                raise
            ctx.reconnect()
            msgid = None
            time.sleep(0.2)


def relay(ctx: Ctx, cid: str, sock, terminal: bool, stdin: bool = True, exec_id: str = "",
          waiting: int | None = None) -> int:
    """Relay a stream opened before the process started, then its status."""
    saved = None
    on_resize = None
    if terminal and os.isatty(0):
        import termios
        import tty as ttymod
        from busybox_engine.cli.ctr.run import send_size
        saved = termios.tcgetattr(0)
        ttymod.setraw(0, termios.TCSANOW)   # keep what was typed ahead, as Go's MakeRaw
        on_resize = lambda: send_size(ctx.client, cid, ctx.namespace, exec_id)  # noqa: E731
    try:
        try:
            pump(sock, terminal, stdin, on_resize)
        finally:
            sock.close()
        sys.stdout.flush()
        return wait_exit(ctx, waiting, cid, exec_id)
    finally:
        if saved is not None:
            import termios
            termios.tcsetattr(0, termios.TCSADRAIN, saved)

