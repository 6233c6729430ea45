"""ctr tasks ls|kill|ps|pause|resume|exec|attach|metrics|rm"""
import sys

from busybox_engine.cli.ctr.common import Ctx, table
from busybox_engine.util.flags import UsageError, parse_flags


def main(ctx: Ctx, argv: list) -> int:
    if not argv:
        raise UsageError("tasks ls|kill|ps|pause|resume|exec|attach|metrics|rm")
    verb, rest = argv[0], argv[1:]
    c = ctx.client
    ns = ctx.namespace
    if verb in ("ls", "list"):
        rows = [("TASK", "PID", "STATUS")]
        rows += [(t["id"], t["pid"], t["status"].upper()) for t in c.call("tasks.list", namespace=ns)]
        sys.stdout.write(table(rows))
    elif verb == "kill":
        opts, args = parse_flags(rest, {"signal": str, "all": bool}, {"s": "signal", "a": "all"})
        from busybox_engine.util.signals import parse_signal
        c.call("tasks.kill", container_id=args[0], namespace=ns,
               signal=parse_signal(opts.get("signal", "SIGTERM")), all=opts.get("all", False))
    elif verb == "ps":
        rows = [("PID", "INFO")] + [(p, "-") for p in c.call("tasks.pids", container_id=rest[0], namespace=ns)]
        sys.stdout.write(table(rows))
    elif verb in ("pause", "resume"):
        c.call(f"tasks.{verb}", container_id=rest[0], namespace=ns)
    elif verb in ("rm", "delete", "del", "remove"):
        opts, args = parse_flags(rest, {"force": bool}, {"f": "force"})
        for cid in args:
            if opts.get("force") and c.call("tasks.state", container_id=cid, namespace=ns)["status"] != "stopped":
                c.call("tasks.kill", container_id=cid, namespace=ns, signal=9)
                c.call("tasks.wait", container_id=cid, namespace=ns)
            c.call("tasks.delete", container_id=cid, namespace=ns)
    elif verb in ("metrics", "metric"):
        if len(rest) != 1:
            raise UsageError("tasks metrics ID")
        sys.stdout.write(metrics_table(c.call("tasks.stats", container_id=rest[0], namespace=ns)))
    elif verb == "attach":
        if len(rest) != 1:
            raise UsageError("tasks attach ID")
        state = c.call("tasks.attach", container_id=rest[0], namespace=ns)
        from busybox_engine.cli.ctr.relay import relay
        return relay(ctx, rest[0], bool(state.get("terminal")))
    elif verb == "exec":
        opts, args = parse_flags(rest, {"exec-id": str, "tty": bool, "cwd": str}, {"t": "tty"})
        if not opts.get("exec-id") or len(args) < 2:
            raise UsageError("tasks exec --exec-id ID CONTAINER ARGS...")
        cid = args[0]
        state = c.call("containers.get", id=cid, namespace=ns)
        process = dict(state["spec"]["process"], args=args[1:], terminal=opts.get("tty", False))
        if opts.get("cwd"):
            process["cwd"] = opts["cwd"]
        c.call("tasks.attach", container_id=cid, namespace=ns)
        c.call("tasks.exec", container_id=cid, exec_id=opts["exec-id"], process=process, namespace=ns)
        from busybox_engine.cli.ctr.relay import relay_exec
        return relay_exec(ctx, cid, opts["exec-id"])
    else:
        raise UsageError(f"unknown tasks command {verb!r}")
    return 0




def metrics_table(stats: dict) -> str:
    """ctr's METRIC/VALUE table of the figures a user looks at first."""
    mem, cpu, pids = stats.get("memory") or {}, stats.get("cpu") or {}, stats.get("pids") or {}
    rows = [("METRIC", "VALUE"),
            ("memory.usage_in_bytes", (mem.get("usage") or {}).get("usage", 0)),
            ("memory.limit_in_bytes", (mem.get("usage") or {}).get("limit", 0)),
            ("memory.stat.cache", mem.get("cache", (mem.get("raw") or {}).get("cache", 0))),
            ("cpuacct.usage", (cpu.get("usage") or {}).get("total", 0)),
            ("pids.current", pids.get("current", 0)),
            ("pids.limit", pids.get("limit", 0))]
    return table(rows)
