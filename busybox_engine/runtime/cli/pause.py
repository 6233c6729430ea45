"""runc pause ID / runc resume ID: the cgroup freezer."""
from busybox_engine.runtime import state
from busybox_engine.runtime.cgroups import manager_for
from busybox_engine.runtime.cli import one_id
from busybox_engine.runtime.errors import WrongState

FLAGS = {}


def run(ctx, opts: dict, args: list, command: str) -> int:
    c = state.load(ctx.root, one_id(args, command))
    status = c.status()
    cg = manager_for(c)
    if command == "pause":
        if status not in ("running", "created"):
            raise WrongState("container not running")
        cg.freeze()
    else:
        if status != "paused":
            raise WrongState("container not paused")
        cg.thaw()
    return 0
