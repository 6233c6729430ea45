"""runc kill [--all] ID [SIGNAL]"""
from busybox_engine.runtime import container, state
from busybox_engine.runtime.cli import UsageError
from busybox_engine.runtime.errors import RuntimeFailure
from busybox_engine.util.signals import parse_signal

FLAGS = {"all": bool}
ALIASES = {"a": "all"}


def run(ctx, opts: dict, args: list, command: str) -> int:
    if not 1 <= len(args) <= 2:
        raise UsageError('"kill" requires a minimum of 1 and a maximum of 2 arguments')
    c = state.load(ctx.root, args[0])   # the container first, then its signal, as runc
    try:
        sig = parse_signal(args[1] if len(args) == 2 else "SIGTERM")
    except ValueError as e:
        raise RuntimeFailure(str(e)) from None
    container.kill(c, sig, opts.get("all", False))
    return 0
