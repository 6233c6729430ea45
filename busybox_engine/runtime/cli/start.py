"""runc start ID"""
from busybox_engine.runtime import container, state
from busybox_engine.runtime.cli import one_id

FLAGS = {}


def run(ctx, opts: dict, args: list, command: str) -> int:
    c = state.load(ctx.root, one_id(args, command))
    container.start(c)
    ctx.log.debug(f"container {c.id} started: pid {c.pid}")
    return 0
