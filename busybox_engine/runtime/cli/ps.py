"""runc ps [--format table|json] ID [ps options]"""
import subprocess
import sys

from busybox_engine.runtime import state
from busybox_engine.runtime.cgroups import manager_for
from busybox_engine.runtime.cli import UsageError
from busybox_engine.runtime.errors import RuntimeFailure
from busybox_engine.util import fastjson

FLAGS = {"format": str}
ALIASES = {"f": "format"}


def run(ctx, opts: dict, args: list, command: str) -> int:
    if not args:
        raise UsageError('"ps" requires a minimum of 1 argument')
    c = state.load(ctx.root, args[0])
    pids = manager_for(c).pids(recursive=True)   # sub-cgroups too, as runc lists them
    if opts.get("format") == "json":
        # as Go encodes runc's []int: compact, and null when there is none
        sys.stdout.write(fastjson.dumps(pids or None, separators=(",", ":")) + "\n")
        return 0
    ps_args = args[1:] or ["-ef"]
    res = subprocess.run(["ps", *ps_args], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeFailure(f"exit status {res.returncode}: {(res.stdout + res.stderr).strip()}")
    lines = res.stdout.splitlines()
    header = lines[0] if lines else ""
    if "PID" not in header.split():
        raise RuntimeFailure("couldn't find PID field in ps output")
    pid_col = header.split().index("PID")
    sys.stdout.write(header + "\n")
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > pid_col and fields[pid_col].isdigit() and int(fields[pid_col]) in pids:
            sys.stdout.write(line + "\n")
    return 0
