"""runc delete [--force] ID"""
from busybox_engine.runtime import container, state
from busybox_engine.runtime.cli import one_id
from busybox_engine.runtime.errors import ContainerNotExist

FLAGS = {"force": bool}
ALIASES = {"f": "force"}


def run(ctx, opts: dict, args: list, command: str) -> int:
    cid = one_id(args, command)
    try:
        c = state.load(ctx.root, cid)
    except ContainerNotExist:
        if opts.get("force"):
            return 0
        raise
    failed = container.delete(c, opts.get("force", False))
    if failed is not None:
        ctx.log.write("error", str(failed))   # logged, not fatal: runc exits 0
    ctx.log.debug(f"container {cid} deleted")
    return 0
