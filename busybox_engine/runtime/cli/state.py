"""runc state ID: the runtime-spec state as JSON."""
import json
import sys

from busybox_engine.runtime import state
from busybox_engine.runtime.cli import one_id

FLAGS = {}


def run(ctx, opts: dict, args: list, command: str) -> int:
    c = state.load(ctx.root, one_id(args, command))
    sys.stdout.write(json.dumps(c.oci_state(), indent=2))   # no newline after it, as runc
    return 0
