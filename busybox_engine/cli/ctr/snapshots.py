"""ctr snapshots ls"""
import sys

from busybox_engine.cli.ctr.common import Ctx, table
from busybox_engine.util.flags import UsageError


def main(ctx: Ctx, argv: list) -> int:
    if argv[:1] not in (["ls"], ["list"]):
        raise UsageError("snapshots ls")
    rows = [("KEY", "PARENT", "KIND")] + [(s["key"], s["parent"], s["kind"].capitalize())
                                          for s in ctx.client.call("snapshots.list")]
    sys.stdout.write(table(rows))
    return 0
