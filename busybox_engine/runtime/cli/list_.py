"""runc list [-q] [--format table|json]"""
import json
import sys

from busybox_engine.runtime import state
from busybox_engine.runtime.cli import UsageError

FLAGS = {"format": str, "quiet": bool}
ALIASES = {"f": "format", "q": "quiet"}


def run(ctx, opts: dict, args: list, command: str) -> int:
    ids = state.list_ids(ctx.root)
    if opts.get("quiet"):
        sys.stdout.write("".join(f"{i}\n" for i in ids))
        return 0
    rows = []
    for cid in ids:
        try:
            rows.append(state.load(ctx.root, cid).oci_state())
        except Exception:  # noqa: BLE001 - a container deleted meanwhile
            continue
    fmt = opts.get("format", "table")
    if fmt == "json":
        sys.stdout.write(json.dumps(rows or None) + "\n")
        return 0
    if fmt != "table":
        raise UsageError(f"invalid format option {fmt!r}")
    table = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    table += [(r["id"], str(r["pid"]), r["status"], r["bundle"], r["created"], r["owner"] or "root")
              for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(6)]
    for row in table:
        line = "".join(cell.ljust(max(w + 4, 12)) for cell, w in zip(row, widths))
        sys.stdout.write(line.rstrip() + "\n")
    return 0
