"""runc state ID: the runtime-spec state as JSON."""
import sys

from busybox_engine.runtime import state
from busybox_engine.runtime.cli import one_id
from busybox_engine.util.fastjson import dumps_indent

FLAGS = {}


def run(ctx, opts: dict, args: list, command: str) -> int:
    c = state.load(ctx.root, one_id(args, command))
    sys.stdout.write(dumps_indent(c.oci_state()))   # no newline after it, as runc
    return 0
