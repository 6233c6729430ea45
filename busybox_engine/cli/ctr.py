"""ctr: a small client of our containerd, like containerd's own ctr.

    ctr [-a ADDRESS] [-n NAMESPACE] COMMAND ...
    run [--rm] [-d] [-t] [--env K=V] [--cwd DIR] [--mount type=bind,src=S,dst=D,options=rbind:ro]
        IMAGE ID [ARGS...]  |  --rootfs DIR ID [ARGS...]
    images|i import FILE|export FILE IMAGE...|pull|push [--plain-http] [--user U:P] REF|ls|rm|tag    containers|c ls|rm|info
    tasks|t ls|kill|ps|pause|resume|exec|attach|metrics|rm     events
    content ls|rm DIGEST...     snapshots ls
"""
import os
import select
import sys

from busybox_engine.rpc.client import Client
from busybox_engine.rpc.errors import RPCError
from busybox_engine.runtime.cli import UsageError, parse_flags

DEFAULT_ADDRESS = "/run/busybox-engine/containerd.sock"


class Ctx:
    def __init__(self, address: str, namespace: str):
        self.address = address
        self.namespace = namespace
        self._client = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.address)
        return self._client


def table(rows: list) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "".join("".join(str(c).ljust(w + 4) for c, w in zip(r, widths)).rstrip() + "\n" for r in rows)


def parse_mount(text: str) -> dict:
    fields = dict(kv.split("=", 1) for kv in text.split(",") if "=" in kv)
    if "src" not in fields and "source" not in fields or "dst" not in fields and "destination" not in fields:
        raise UsageError(f"invalid --mount {text!r}: want type=bind,src=PATH,dst=PATH[,options=rbind:ro]")
    return {"type": fields.get("type", "bind"), "source": fields.get("src") or fields.get("source"),
            "destination": fields.get("dst") or fields.get("destination"),
            "options": fields.get("options", "rbind").split(":")}


def run(ctx: Ctx, argv: list) -> int:
    opts, args = parse_flags(argv, {"rm": bool, "detach": bool, "tty": bool, "env": list,
                                    "cwd": str, "rootfs": str, "mount": list, "log": str},
                             {"d": "detach", "t": "tty"})
    image = None
    if opts.get("rootfs"):
        if not args:
            raise UsageError("run --rootfs DIR needs a container id")
        cid, cmd = args[0], args[1:]
    else:
        if len(args) < 2:
            raise UsageError("run IMAGE ID [ARGS...] (or --rootfs DIR ID [ARGS...])")
        image, cid, cmd = args[0], args[1], args[2:]
    c = ctx.client
    ns = ctx.namespace
    from busybox_engine.supervisor.defaultspec import default_spec
    spec = default_spec(ns, cid)
    proc = spec["process"]
    proc["terminal"] = opts.get("tty", False)
    if image:
        cfg = (c.call("images.config", name=image, namespace=ns).get("config") or {})
        proc["args"] = (cfg.get("Entrypoint") or []) + (cmd or cfg.get("Cmd") or [])
        proc["env"] = cfg.get("Env") or proc["env"]
        proc["cwd"] = cfg.get("WorkingDir") or "/"
        user = cfg.get("User") or ""
        if user:
            uid, _, gid = user.partition(":")
            if not uid.isdigit() or (gid and not gid.isdigit()):
                raise UsageError(f"image user {user!r}: only numeric uid[:gid] for now")
            proc["user"] = {"uid": int(uid), "gid": int(gid or 0)}
    else:
        proc["args"] = cmd or ["sh"]
    if not proc["args"]:
        raise UsageError("no command: give one, or use an image with a Cmd")
    proc["env"] += opts.get("env") or []
    if proc["terminal"] and not any(e.startswith("TERM=") for e in proc["env"]):
        proc["env"].append("TERM=xterm")
    if opts.get("cwd"):
        proc["cwd"] = opts["cwd"]
    spec["mounts"] += [parse_mount(m) for m in opts.get("mount") or []]
    if image:
        c.call("containers.create", id=cid, spec=spec, image=image, namespace=ns)
    else:
        c.call("containers.create", id=cid, spec=spec, rootfs=os.path.abspath(opts["rootfs"]), namespace=ns)
    interactive = not opts.get("detach")
    try:
        c.call("tasks.create", container_id=cid, namespace=ns, stdin=interactive,
               terminal=opts.get("tty", False), log_path=opts.get("log", ""))
        if interactive:
            c.call("tasks.attach", container_id=cid, namespace=ns)
        if opts.get("tty"):
            send_size(c, cid, ns)
        c.call("tasks.start", container_id=cid, namespace=ns)
        if not interactive:
            return 0
        status = relay(ctx, cid, opts.get("tty", False))
    except BaseException:
        if opts.get("rm"):
            cleanup(c, cid, ns)
        raise
    if opts.get("rm"):
        cleanup(c, cid, ns)
    return status


def cleanup(c: Client, cid: str, ns: str) -> None:
    try:
        c.call("tasks.delete", container_id=cid, namespace=ns)
    except RPCError:
        try:
            c.call("tasks.kill", container_id=cid, namespace=ns, signal=9)
            c.call("tasks.wait", container_id=cid, namespace=ns)
            c.call("tasks.delete", container_id=cid, namespace=ns)
        except RPCError:
            pass
    try:
        c.call("containers.delete", id=cid, namespace=ns)
    except RPCError:
        pass


def send_size(c: Client, cid: str, ns: str) -> None:
    """Our terminal's size to the task's pty."""
    if not os.isatty(0):
        return
    import fcntl
    import struct
    import termios
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))
    if rows and cols:
        c.call("tasks.resize_pty", container_id=cid, namespace=ns, width=cols, height=rows)


def relay(ctx: Ctx, cid: str, tty: bool) -> int:
    """stdin to the task, its output to ours, until it exits; its status.
    The status comes from tasks.wait (sent up front), not from an event."""
    c = ctx.client
    saved = None
    resized = []
    if tty and os.isatty(0):
        import signal
        import termios
        import tty as ttymod
        saved = termios.tcgetattr(0)
        ttymod.setraw(0)
        signal.signal(signal.SIGWINCH, lambda *_: resized.append(1))
    stdin_open = True
    waiting = c.send("tasks.wait", {"container_id": cid, "namespace": ctx.namespace})
    try:
        while True:
            while c.notifications:
                method, p = c.notifications.pop(0)
                if method == "io" and not p.get("exec_id"):
                    out = sys.stdout.buffer if p["stream"] == "stdout" else sys.stderr.buffer
                    out.write(p["data"])
                    out.flush()
            if c.answered(waiting):
                return c.wait(waiting)["exit_status"]
            if resized:
                resized.clear()
                send_size(c, cid, ctx.namespace)
            fds = [c.sock] + ([0] if stdin_open else [])
            try:
                ready = select.select(fds, [], [])[0]
            except InterruptedError:
                continue
            if 0 in ready:
                data = os.read(0, 65536)
                if data:
                    c.call("tasks.write_stdin", container_id=cid, namespace=ctx.namespace, data=data)
                else:
                    stdin_open = False
                    if not tty:
                        c.call("tasks.close_stdin", container_id=cid, namespace=ctx.namespace)
                # that call may have read what made the socket readable:
                # look again rather than block in a read
                continue
            if c.sock in ready:
                c.receive()
    finally:
        if saved is not None:
            import termios
            termios.tcsetattr(0, termios.TCSADRAIN, saved)


def containers(ctx: Ctx, argv: list) -> int:
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


def tasks(ctx: Ctx, argv: list) -> int:
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
        from busybox_engine.runtime.container import parse_signal
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
        return relay_exec(ctx, cid, opts["exec-id"])
    else:
        raise UsageError(f"unknown tasks command {verb!r}")
    return 0


def registry_login(flag: str, ref: str) -> tuple:
    """(user, password): from --user USER[:PASSWORD] (asking for a missing
    password), else where `docker login` stored them, as docker would."""
    user, _, password = flag.partition(":")
    if user and not password:
        import getpass
        password = getpass.getpass("Password: ")
    if not user:
        from busybox_engine.image import credentials
        from busybox_engine.image.reference import parse
        user, password = credentials.lookup(parse(ref).domain) or ("", "")
    return user, password


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


def relay_exec(ctx: Ctx, cid: str, exec_id: str) -> int:
    c = ctx.client
    while True:
        method, p = c.next_notification()
        if p.get("exec_id") != exec_id:
            continue
        if method == "io":
            (sys.stdout.buffer if p["stream"] == "stdout" else sys.stderr.buffer).write(p["data"])
        elif method == "task.exit":
            sys.stdout.flush()
            c.call("tasks.delete", container_id=cid, exec_id=exec_id, namespace=ctx.namespace)
            return p["exit_status"]


def images(ctx: Ctx, argv: list) -> int:
    if not argv:
        raise UsageError("images import|export|pull|push|ls|rm|tag")
    verb, rest = argv[0], argv[1:]
    c = ctx.client
    ns = ctx.namespace
    if verb == "import":
        if not rest:
            raise UsageError("images import FILE")
        for name in c.call("images.import", path=os.path.abspath(rest[0]), namespace=ns):
            sys.stdout.write(f"unpacking {name}...done\n")
    elif verb in ("pull", "push"):
        flags = {"plain-http": bool, "user": str, "platform": str}
        if verb == "push":
            flags.update({"mount-from": str, "chunk-size": int})
        opts, args = parse_flags(rest, flags, {"u": "user"})
        if len(args) != 1 and not (verb == "push" and len(args) == 2):
            raise UsageError("images pull [--plain-http] [--user USER[:PASSWORD]] [--platform OS/ARCH] REF\n"
                             "images push [--plain-http] [--user USER[:PASSWORD]] [--mount-from REPO] REMOTE [LOCAL]")
        user, password = registry_login(opts.get("user") or "", args[0])
        params = {"name": args[0], "namespace": ns, "plain_http": opts.get("plain-http", False),
                  "user": user, "password": password}
        if verb == "pull":
            params["platform"] = opts.get("platform") or "linux/amd64"
        else:
            params.update(image=args[1] if len(args) == 2 else "", mount_from=opts.get("mount-from") or "",
                          chunk_size=opts.get("chunk-size") or 0)
        tty = sys.stdout.isatty()

        def told(method: str, p: dict) -> None:
            if method != f"images.{verb}.progress":
                return
            if "offset" in p:  # bytes so far: a line redrawn on a terminal, nothing in a log
                if tty:
                    sys.stdout.write(f"\r{p['digest'][:19]}: {p['status']} {p['offset'] >> 20}/{p['size'] >> 20} MiB")
                    sys.stdout.flush()
                return
            source = f" from {p['from']}" if p.get("from") else ""
            erase = "\r\033[K" if tty else ""
            sys.stdout.write(f"{erase}{p['digest']}: {p['status']}{source} ({p['size']} B)\n")
        r = c.wait(c.send(f"images.{verb}", params), told)
        if verb == "pull":
            sys.stdout.write(f"unpacking {r['name']} ({r['target']['digest']})...done\n")
        else:
            sys.stdout.write(f"pushed {args[0]} ({r['digest']}): {r['uploaded']} uploaded, {r['mounted']} mounted,"
                             f" {r['existing']} already there\n")
    elif verb == "export":
        if len(rest) < 2:
            raise UsageError("images export FILE IMAGE...")
        c.call("images.export", names=rest[1:], path=os.path.abspath(rest[0]), namespace=ns)
    elif verb in ("ls", "list"):
        opts, _ = parse_flags(rest, {"quiet": bool}, {"q": "quiet"})
        records = c.call("images.list", namespace=ns)
        if opts.get("quiet"):
            sys.stdout.write("".join(r["name"] + "\n" for r in records))
        else:
            sys.stdout.write(table([("REF", "TYPE", "DIGEST", "SIZE")] +
                                   [(r["name"], r["target"]["mediaType"], r["target"]["digest"],
                                     f"{r['target']['size']} B") for r in records]))
    elif verb in ("rm", "remove", "delete", "del"):
        for name in rest:
            c.call("images.delete", name=name, namespace=ns)
            sys.stdout.write(name + "\n")
    elif verb == "tag":
        if len(rest) != 2:
            raise UsageError("images tag SOURCE TARGET")
        sys.stdout.write(c.call("images.tag", source=rest[0], target=rest[1], namespace=ns)["name"] + "\n")
    else:
        raise UsageError(f"unknown images command {verb!r}")
    return 0


def events(ctx: Ctx, argv: list) -> int:
    import json
    c = ctx.client
    c.call("events.subscribe")
    while True:
        _, e = c.next_notification()
        sys.stdout.write(f"{e['timestamp']} {e['topic']} {json.dumps(e['event'])}\n")
        sys.stdout.flush()


def content(ctx: Ctx, argv: list) -> int:
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


def snapshots(ctx: Ctx, argv: list) -> int:
    if argv[:1] not in (["ls"], ["list"]):
        raise UsageError("snapshots ls")
    rows = [("KEY", "PARENT", "KIND")] + [(s["key"], s["parent"], s["kind"].capitalize())
                                          for s in ctx.client.call("snapshots.list")]
    sys.stdout.write(table(rows))
    return 0


COMMANDS = {"run": run, "containers": containers, "c": containers, "container": containers,
            "images": images, "image": images, "i": images,
            "tasks": tasks, "t": tasks, "task": tasks, "events": events,
            "content": content, "snapshots": snapshots, "snapshot": snapshots}


def main(argv: list) -> int:
    try:
        opts, rest = parse_flags(argv, {"address": str, "namespace": str, "help": bool},
                                 {"a": "address", "n": "namespace", "h": "help"})
        if opts.get("help") or not rest:
            sys.stdout.write(__doc__)
            return 0
        command = COMMANDS.get(rest[0])
        if command is None:
            raise UsageError(f"No help topic for '{rest[0]}'")
        address = opts.get("address") or os.environ.get("CONTAINERD_ADDRESS") or DEFAULT_ADDRESS
        if address.startswith("unix://"):
            address = address[len("unix://"):]
        ctx = Ctx(address, opts.get("namespace") or os.environ.get("CONTAINERD_NAMESPACE") or "default")
        return command(ctx, rest[1:])
    except UsageError as e:
        sys.stderr.write(f"ctr: {e}\n")
        return 1
    except RPCError as e:
        sys.stderr.write(f"ctr: {e.message}\n")
        return 1
    except KeyboardInterrupt:
        return 130
