"""runc run [-d] [create flags] ID: create, start, and (without -d) wait,
forwarding signals, then delete; exits with the program's status
(128+N when killed by signal N)."""
import _signal as signal  # the C module: signal.py imports enum
import os

from busybox_engine.runtime import container
from busybox_engine.runtime.cli import create, one_id

FLAGS = dict(create.FLAGS, detach=bool, keep=bool)
ALIASES = dict(create.ALIASES, d="detach")
# the signals run forwards: those signal.Signals names (1-31, RTMIN, RTMAX)
# but KILL, STOP and CHLD
FORWARDED = [s for s in [*range(1, 32), signal.SIGRTMIN, signal.SIGRTMAX]
             if s not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD)]


def run(ctx, opts: dict, args: list, command: str) -> int:
    cid = one_id(args, command)
    detach = opts.get("detach", False)
    copts = create.options(opts, foreground=not detach, warn=ctx.log.warning, debug=ctx.log.debug)
    from busybox_engine.runtime import spec
    copts.spec = spec.load(copts.bundle)
    console = None
    if not detach and not copts.console_socket and copts.spec["process"].get("terminal"):
        # no one to hand the pty to: runc keeps it and relays its own stdio
        from busybox_engine.runtime.console import Relay
        console = Relay()
        copts.console_fd = console.child_end
    try:
        c, pid = container.create(ctx.root, cid, copts)
    except BaseException:
        if console is not None:
            console.close()
        raise
    if console is not None:
        console.receive_master()
    # signals that arrive from here on go to the container's init
    forward = {}
    if not detach:
        for sig in FORWARDED:
            try:
                forward[sig] = signal.signal(sig, lambda s, _f: _send(pid, s))
            except (OSError, ValueError):
                pass
    try:
        container.start(c)
    except BaseException:
        container.delete(c, force=True)
        raise
    ctx.log.debug(f"container {cid} started: pid {pid}")
    if detach:
        return 0
    if console is not None:
        forward.pop(signal.SIGWINCH, None)
        signal.signal(signal.SIGWINCH, lambda s, _f: console.copy_size())
        status = console.relay_until_exit(pid)
    else:
        status = _wait(pid)
    for sig, old in forward.items():
        if old is not None:  # None: a handler not set from Python
            signal.signal(sig, old)
    ctx.log.debug(f"container {cid}: process exited, status {status}")
    if not opts.get("keep"):
        failed = container.delete(c, force=True)
        if failed is not None:
            ctx.log.write("error", str(failed))   # logged, not fatal: runc exits 0
        ctx.log.debug(f"container {cid} deleted")
    return status


def _send(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait(pid: int) -> int:
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except InterruptedError:
            continue
        from busybox_engine.util.procs import exit_code
        return exit_code(status)
