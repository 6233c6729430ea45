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
        # as Go's encoder writes runc's list: compact, the owner's name last
        out = []
        for r in rows:
            r = dict(r)
            r.pop("owner", None)
            r["owner"] = _owner(ctx.root, r["id"])
            out.append(r)
        sys.stdout.write(json.dumps(out or None, separators=(",", ":")) + "\n")
        return 0
    if fmt != "table":
        raise UsageError(f"invalid format option {fmt!r}")
    table = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    table += [(r["id"], str(r["pid"]), r["status"], r["bundle"], r["created"], _owner(ctx.root, r["id"]))
              for r in rows]
    # Go's tabwriter as runc sets it: cells at least 12 wide, 3 spaces after the longest
    widths = [max(len(row[i]) for row in table) for i in range(6)]
    for row in table:
        line = "".join(cell.ljust(max(w + 3, 12)) for cell, w in zip(row[:-1], widths)) + row[-1]
        sys.stdout.write(line + "\n")
    return 0


def _owner(root: str, cid: str) -> str:
    """The name of the user owning the container's state directory."""
    import os
    import pwd
    try:
        uid = os.stat(os.path.join(root, cid)).st_uid
    except OSError:
        return ""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"#{uid}"
