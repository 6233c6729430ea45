"""Between a task and this terminal: stdin in, output out, the exit status at the end."""
import os
import select
import sys

from busybox_engine.cli.ctr.common import Ctx
from busybox_engine.cli.ctr.run import send_size


def relay(ctx: Ctx, cid: str, tty: bool) -> int:
    """stdin to the task, its output to ours, until it exits; its status.
    The status comes from tasks.wait (sent up front), not from an event."""
    c = ctx.client
    saved = None
    resized = []
    if tty and os.isatty(0):
        import signal
        import termios
        import tty as ttymod
        saved = termios.tcgetattr(0)
        ttymod.setraw(0)
        signal.signal(signal.SIGWINCH, lambda *_: resized.append(1))
    stdin_open = True
    waiting = c.send("tasks.wait", {"container_id": cid, "namespace": ctx.namespace})
    try:
        while True:
            while c.notifications:
                method, p = c.notifications.pop(0)
                if method == "io" and not p.get("exec_id"):
                    out = sys.stdout.buffer if p["stream"] == "stdout" else sys.stderr.buffer
                    out.write(p["data"])
                    out.flush()
            if c.answered(waiting):
                return c.wait(waiting)["exit_status"]
            if resized:
                resized.clear()
                send_size(c, cid, ctx.namespace)
            fds = [c.sock] + ([0] if stdin_open else [])
            try:
                ready = select.select(fds, [], [])[0]
            except InterruptedError:
                continue
            if 0 in ready:
                data = os.read(0, 65536)
                if data:
                    c.call("tasks.write_stdin", container_id=cid, namespace=ctx.namespace, data=data)
                else:
                    stdin_open = False
                    if not tty:
                        c.call("tasks.close_stdin", container_id=cid, namespace=ctx.namespace)
                # that call may have read what made the socket readable:
                # look again rather than block in a read
                continue
            if c.sock in ready:
                c.receive()
    finally:
        if saved is not None:
            import termios
            termios.tcsetattr(0, termios.TCSADRAIN, saved)




def relay_exec(ctx: Ctx, cid: str, exec_id: str) -> int:
    c = ctx.client
    while True:
        method, p = c.next_notification()
        if p.get("exec_id") != exec_id:
            continue
        if method == "io":
            (sys.stdout.buffer if p["stream"] == "stdout" else sys.stderr.buffer).write(p["data"])
        elif method == "task.exit":
            sys.stdout.flush()
            c.call("tasks.delete", container_id=cid, exec_id=exec_id, namespace=ctx.namespace)
            return p["exit_status"]
