"""runc start ID"""
from busybox_engine.runtime import container, state
from busybox_engine.runtime.cli import one_id

FLAGS = {}


def run(ctx, opts: dict, args: list, command: str) -> int:
    container.start(state.load(ctx.root, one_id(args, command)))
    return 0
