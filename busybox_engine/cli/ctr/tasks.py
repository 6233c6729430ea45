"""ctr tasks ls|kill|ps|pause|resume|exec|attach|metrics|rm"""
import sys

from busybox_engine.cli.ctr.common import Ctx, table
from busybox_engine.util.flags import UsageError, parse_flags

USAGE = "tasks ls|kill|ps|pause|resume|exec|attach|metrics|rm"


def main(ctx: Ctx, argv: list) -> int:
    if not argv:
        raise UsageError(USAGE)
    verb = VERBS.get(argv[0])
    if verb is None:
        raise UsageError(f"unknown tasks command {argv[0]!r}")
    return verb(ctx, argv[1:]) or 0


def one_id(args: list, usage: str) -> str:
    if len(args) != 1:
        raise UsageError(usage)
    return args[0]


def ls(ctx: Ctx, argv: list) -> None:
    rows = [("TASK", "PID", "STATUS")]
    rows += [(t["id"], t["pid"], t["status"].upper()) for t in ctx.client.call("tasks.list", namespace=ctx.namespace)]
    sys.stdout.write(table(rows))


def kill(ctx: Ctx, argv: list) -> None:
    from busybox_engine.util.signals import parse_signal
    opts, args = parse_flags(argv, {"signal": str, "all": bool, "exec-id": str},
                             {"s": "signal", "a": "all"}, combine_short=True)
    cid = one_id(args, "tasks kill [-s SIGNAL] [-a] [--exec-id E] ID")
    try:
        sig = parse_signal(opts.get("signal", "SIGTERM"))
    except ValueError as e:
        raise UsageError(str(e)) from None
    ctx.client.call("tasks.kill", container_id=cid, namespace=ctx.namespace, signal=sig,
                    all=opts.get("all", False), exec_id=opts.get("exec-id", ""))


def ps(ctx: Ctx, argv: list) -> None:
    cid = one_id(argv, "tasks ps ID")
    rows = [("PID", "INFO")] + [(p, "-") for p in ctx.client.call("tasks.pids", container_id=cid,
                                                                 namespace=ctx.namespace)]
    sys.stdout.write(table(rows))


def pause(ctx: Ctx, argv: list) -> None:
    ctx.client.call("tasks.pause", container_id=one_id(argv, "tasks pause ID"), namespace=ctx.namespace)


def resume(ctx: Ctx, argv: list) -> None:
    ctx.client.call("tasks.resume", container_id=one_id(argv, "tasks resume ID"), namespace=ctx.namespace)


def rm(ctx: Ctx, argv: list) -> None:
    """Delete stopped tasks; -f: whatever state they are in."""
    opts, args = parse_flags(argv, {"force": bool}, {"f": "force"})
    if not args:
        raise UsageError("tasks rm [-f] ID...")
    for cid in args:
        ctx.client.call("tasks.delete", container_id=cid, namespace=ctx.namespace, force=opts.get("force", False))


def metrics(ctx: Ctx, argv: list) -> None:
    cid = one_id(argv, "tasks metrics ID")
    sys.stdout.write(metrics_table(ctx.client.call("tasks.stats", container_id=cid, namespace=ctx.namespace)))


def attach(ctx: Ctx, argv: list) -> int:
    from busybox_engine.cli.ctr.relay import attach as open_stream, relay
    cid = one_id(argv, "tasks attach ID")
    state = ctx.client.call("tasks.state", container_id=cid, namespace=ctx.namespace)
    sock, terminal = open_stream(ctx, cid, stdin=bool(state.get("stdin")), tty=bool(state.get("terminal")))
    waiting = ctx.client.send("tasks.wait", {"container_id": cid, "namespace": ctx.namespace})
    return relay(ctx, cid, sock, terminal, stdin=bool(state.get("stdin")), waiting=waiting)


def exec_(ctx: Ctx, argv: list) -> int:
    """Another process in a running task, attached: its status is ours."""
    from busybox_engine.cli.ctr.relay import attach as open_stream, relay
    opts, args = parse_flags(argv, {"exec-id": str, "tty": bool, "cwd": str, "detach": bool},
                             {"t": "tty", "d": "detach"}, combine_short=True)
    if not opts.get("exec-id") or len(args) < 2:
        raise UsageError("tasks exec --exec-id ID [-t] [-d] [--cwd DIR] CONTAINER ARGS...")
    cid, exec_id, tty = args[0], opts["exec-id"], opts.get("tty", False)
    c, ns = ctx.client, ctx.namespace
    record = c.call("containers.get", id=cid, namespace=ns)
    process = dict(record["spec"]["process"], args=args[1:], terminal=tty)
    if opts.get("cwd"):
        process["cwd"] = opts["cwd"]
    detach = opts.get("detach", False)
    c.call("tasks.exec", container_id=cid, exec_id=exec_id, process=process, namespace=ns,
           stdin=not detach, terminal=tty)
    if detach:
        c.call("tasks.start", container_id=cid, exec_id=exec_id, namespace=ns)
        return 0
    sock, terminal = open_stream(ctx, cid, exec_id, stdin=True, tty=tty)
    try:
        if tty:
            from busybox_engine.cli.ctr.run import send_size
            send_size(c, cid, ns, exec_id)
        c.call("tasks.start", container_id=cid, exec_id=exec_id, namespace=ns)
        waiting = c.send("tasks.wait", {"container_id": cid, "namespace": ns, "exec_id": exec_id})
        status = relay(ctx, cid, sock, terminal, exec_id=exec_id, waiting=waiting)
    finally:
        sock.close()
    ctx.client.call("tasks.delete", container_id=cid, exec_id=exec_id, namespace=ns)
    return status


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


VERBS = {"ls": ls, "list": ls, "kill": kill, "ps": ps, "pause": pause, "resume": resume,
         "rm": rm, "delete": rm, "del": rm, "remove": rm, "metrics": metrics, "metric": metrics,
         "attach": attach, "exec": exec_}
