"""ctr events: containerd's events as they happen, one a line."""
import sys

from busybox_engine.cli.ctr.common import Ctx


def main(ctx: Ctx, argv: list) -> int:
    import json
    c = ctx.client
    c.call("events.subscribe")
    while True:
        _, e = c.next_notification()
        sys.stdout.write(f"{e['timestamp']} {e['topic']} {json.dumps(e['event'])}\n")
        sys.stdout.flush()
