"""ctr containers ls|rm|info"""
import sys

from busybox_engine.cli.ctr.common import Ctx, table
from busybox_engine.util.flags import UsageError, parse_flags


def main(ctx: Ctx, argv: list) -> int:
    if not argv:
        raise UsageError("containers ls|rm|info")
    verb, rest = argv[0], argv[1:]
    c = ctx.client
    if verb in ("ls", "list"):
        opts, _ = parse_flags(rest, {"quiet": bool}, {"q": "quiet"})
        records = c.call("containers.list", namespace=ctx.namespace)
        if opts.get("quiet"):
            sys.stdout.write("".join(r["id"] + "\n" for r in records))
        else:
            sys.stdout.write(table([("CONTAINER", "IMAGE", "RUNTIME")] +
                                   [(r["id"], r.get("image") or "-", "io.containerd.runc.v2") for r in records]))
    elif verb in ("rm", "delete", "del", "remove"):
        for cid in rest:
            c.call("containers.delete", id=cid, namespace=ctx.namespace)
    elif verb == "info":
        import json
        sys.stdout.write(json.dumps(c.call("containers.get", id=rest[0], namespace=ctx.namespace), indent=4) + "\n")
    else:
        raise UsageError(f"unknown containers command {verb!r}")
    return 0
