"""runc exec [--process FILE | flags] ID [ARGS...]"""
import json

from busybox_engine.runtime import state
from busybox_engine.runtime.cli import UsageError
from busybox_engine.runtime.errors import RuntimeFailure

FLAGS = {"process": str, "tty": bool, "console-socket": str, "detach": bool,
         "pid-file": str, "env": list, "cwd": str, "user": str, "additional-gids": list,
         "cap": list, "no-new-privs": bool, "preserve-fds": int, "apparmor": str,
         "process-label": str, "cgroup": list, "ignore-paused": bool}
ALIASES = {"p": "process", "t": "tty", "d": "detach", "e": "env", "u": "user", "g": "additional-gids",
           "c": "cap"}


def build_process(c: state.Container, opts: dict, args: list) -> dict:
    if opts.get("process"):
        try:
            with open(opts["process"]) as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            raise RuntimeFailure(f"process file {opts['process']}: {e}") from None
    if not args:
        raise UsageError("exec args cannot be empty")
    base = c.spec["process"]
    p = {"args": args, "env": list(base.get("env") or []), "cwd": opts.get("cwd") or base.get("cwd", "/"),
         "terminal": opts.get("tty", False), "user": dict(base.get("user") or {}),
         "capabilities": json.loads(json.dumps(base.get("capabilities") or {})),
         "noNewPrivileges": opts.get("no-new-privs", base.get("noNewPrivileges", False)),
         "rlimits": base.get("rlimits") or []}
    for e in opts.get("env") or []:
        key = e.split("=", 1)[0]
        p["env"] = [x for x in p["env"] if x.split("=", 1)[0] != key] + [e]
    if opts.get("user"):
        uid, _, gid = opts["user"].partition(":")
        try:
            p["user"] = {"uid": int(uid), "gid": int(gid) if gid else 0}
        except ValueError:
            raise UsageError(f"invalid --user {opts['user']!r}: want UID[:GID]") from None
    if opts.get("additional-gids"):
        p["user"]["additionalGids"] = [int(g) for g in opts["additional-gids"]]
    for cap in opts.get("cap") or []:
        for k in ("bounding", "effective", "permitted", "ambient"):
            p["capabilities"].setdefault(k, []).append(cap)
    return p


def run(ctx, opts: dict, args: list, command: str) -> int:
    if not args:
        raise UsageError('"exec" requires a minimum of 1 argument')
    from busybox_engine.runtime.exec import execute
    try:
        c = state.load(ctx.root, args[0])
        process = build_process(c, opts, args[1:])
        subs = None
        if opts.get("cgroup"):
            from busybox_engine.runtime.cgroups import parse_sub_cgroups
            subs = parse_sub_cgroups(opts["cgroup"])
        return execute(c, process, detach=opts.get("detach", False), pid_file=opts.get("pid-file"),
                       console_socket=opts.get("console-socket"), preserve_fds=opts.get("preserve-fds", 0),
                       ignore_paused=opts.get("ignore-paused", False), sub_cgroups=subs)
    except (RuntimeFailure, OSError) as e:
        # runc's own failure (not the program's status): 255, as runc exits
        from busybox_engine.runtime.cli import describe
        msg = str(e) if isinstance(e, RuntimeFailure) else describe(e)
        if msg.startswith("exec: "):
            msg = "unable to start container process: " + msg
        ctx.log.error(f"exec failed: {msg}")
        return 255
