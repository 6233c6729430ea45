"""ctr content ls | rm DIGEST..."""
import sys

from busybox_engine.cli.ctr.common import Ctx, table
from busybox_engine.util.flags import UsageError


def main(ctx: Ctx, argv: list) -> int:
    c = ctx.client
    verb, rest = (argv[0], argv[1:]) if argv else ("", [])
    if verb in ("ls", "list"):
        rows = [("DIGEST", "SIZE")] + [(b["digest"], f"{b['size']} B") for b in c.call("content.list")]
        sys.stdout.write(table(rows))
    elif verb in ("rm", "delete", "del", "remove") and rest:
        for digest in rest:
            c.call("content.delete", digest=digest)
            sys.stdout.write(digest + "\n")
    else:
        raise UsageError("content ls | rm DIGEST...")
    return 0
